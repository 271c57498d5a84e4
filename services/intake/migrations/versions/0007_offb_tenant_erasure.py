"""DELETE for the application role on every table holding an NGO's rows, so that
tenant.offboarded can erase them (tirek.db.erasure; intake.tenants.offboarding)

A table added by a later migration with a tenant_id column needs its own grant (call
grant_erasure again there): until then the erasure refuses and says which table.

Revision ID: 0007_offb
Revises: 0006_idem
"""

from alembic import context, op

from tirek.db.erasure import TenantData, grant_erasure, revoke_erasure

revision = "0007_offb"
down_revision = "0006_idem"
branch_labels = None
depends_on = None


# Kept here rather than imported: a migration must not change when the code does. The access
# log stays append-only for the application role (0004_acclog): it is kept, never erased.
TENANT_DATA = TenantData(table_owners={"tenants": ("id",)}, keep=frozenset({"access_log"}))


def _app_role() -> str:
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m intake migrate`"
        )
    return app_role


def upgrade() -> None:
    grant_erasure(op, _app_role(), TENANT_DATA)


def downgrade() -> None:
    # These had DELETE before for reasons of their own: a withdrawn consent purges packages
    # (0002), a changed name replaces its hints (0004), a rotation destroys an old data key and
    # an erasure removes family links (0005), the purge drops expired idempotency keys (0006).
    revoke_erasure(
        op,
        _app_role(),
        TENANT_DATA,
        keep=("share_packages", "partner_hints", "data_keys", "family_links", "idempotency_keys"),
    )
