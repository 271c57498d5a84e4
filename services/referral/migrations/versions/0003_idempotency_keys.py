"""Idempotency keys: a retried request answers with its first result (tirek.db.idempotency)

Revision ID: 0003_idem
Revises: 0002_enc
"""

from alembic import context, op

from tirek.db.idempotency import create_idempotency_table, drop_idempotency_table

revision = "0003_idem"
down_revision = "0002_enc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m referral migrate`"
        )
    create_idempotency_table(op, app_role)


def downgrade() -> None:
    drop_idempotency_table(op)
