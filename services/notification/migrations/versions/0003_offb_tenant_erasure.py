"""DELETE for the application role on every table holding an NGO's rows, so that
tenant.offboarded can erase them (tirek.db.erasure; notification.tenants.offboarding)

A table added by a later migration with a tenant_id column needs its own grant (call
grant_erasure again there): until then the erasure refuses and says which table.

Revision ID: 0003_offb
Revises: 0002_idem
"""

from alembic import context, op

from tirek.db.erasure import TenantData, grant_erasure, revoke_erasure

revision = "0003_offb"
down_revision = "0002_idem"
branch_labels = None
depends_on = None

# Kept here rather than imported: a migration must not change when the code does.
TENANT_DATA = TenantData(table_owners={"tenants": ("id",)})
# Tables whose DELETE 0001 granted for reasons of their own stay deletable on downgrade.
_DELETABLE_BEFORE = ("recipients", "idempotency_keys")


def _app_role() -> str:
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m notification migrate`"
        )
    return app_role


def upgrade() -> None:
    grant_erasure(op, _app_role(), TENANT_DATA)


def downgrade() -> None:
    revoke_erasure(op, _app_role(), TENANT_DATA, keep=_DELETABLE_BEFORE)
