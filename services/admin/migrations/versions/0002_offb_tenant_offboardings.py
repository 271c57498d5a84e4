"""The audit of tenant offboardings

Revision ID: 0002_offb
Revises: 0001
"""

import sqlalchemy as sa
from alembic import context, op

from tirek.db.rls import grant_statements

revision = "0002_offb"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_offboardings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.Uuid(), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_reason", sa.String(length=500), nullable=False),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirm_reason", sa.String(length=500), nullable=True),
        sa.Column("cancelled_by", sa.String(length=64), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("users_removed", sa.Integer(), nullable=True),
        sa.Column("agreements_revoked", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant"], ["tenants.id"], name=op.f("fk_tenant_offboardings_tenant_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_offboardings")),
    )
    op.create_index(op.f("ix_tenant_offboardings_tenant"), "tenant_offboardings", ["tenant"])
    # At most one open offboarding per tenant, whatever two administrators do at once.
    op.create_index(
        "uq_tenant_offboardings_open",
        "tenant_offboardings",
        ["tenant"],
        unique=True,
        postgresql_where=sa.text("confirmed_at IS NULL AND cancelled_at IS NULL"),
    )
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError("the application role is unknown: run through `python -m admin migrate`")
    for statement in grant_statements("tenant_offboardings", app_role):
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("uq_tenant_offboardings_open", table_name="tenant_offboardings")
    op.drop_index(op.f("ix_tenant_offboardings_tenant"), table_name="tenant_offboardings")
    op.drop_table("tenant_offboardings")
