"""Free text and share packages at rest only as ciphertext, under per-tenant data keys

The columns keep their names and their values: rows written before stay in plaintext (or, for
packages, under intake's transport seal) with ``key_version`` NULL until the service (at
start) or ``python -m referral keys seal-plaintext`` encrypts them; migrations never see the
master key. Erasure may empty a referral's reason and a message's body: both become nullable.

Revision ID: 0002_enc
Revises: 0001
"""

import sqlalchemy as sa
from alembic import context, op

from tirek.crypto.store import create_data_keys_table, drop_data_keys_table

revision = "0002_enc"
down_revision = "0001"
branch_labels = None
depends_on = None

SEALED_TABLES = ("referrals", "referral_messages", "return_plans", "share_packages")


def upgrade() -> None:
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m referral migrate`"
        )
    create_data_keys_table(op, app_role)
    for table in SEALED_TABLES:
        op.add_column(table, sa.Column("key_version", sa.Integer(), nullable=True))
    op.alter_column("referrals", "reason", nullable=True)
    op.alter_column("referral_messages", "body", nullable=True)
    op.alter_column("share_packages", "sealed", nullable=True)


def downgrade() -> None:
    for table in SEALED_TABLES:
        op.drop_column(table, "key_version")
    drop_data_keys_table(op)
