"""Idempotency keys: a retried request answers with its first result (tirek.db.idempotency)

Revision ID: 0002_idem
Revises: 0001
"""

from alembic import context, op

from tirek.db.idempotency import create_idempotency_table, drop_idempotency_table

revision = "0002_idem"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m notification migrate`"
        )
    create_idempotency_table(op, app_role)


def downgrade() -> None:
    drop_idempotency_table(op)
