"""DELETE for the application role on every table holding an NGO's rows, so that
tenant.offboarded can erase them (tirek.db.erasure; referral.offboarding)

A table added by a later migration with one of these owner columns needs its own grant (call
grant_erasure again there): until then the erasure refuses and says which table.

Revision ID: 0004_offb
Revises: 0003_idem
"""

from alembic import context, op

from tirek.db.erasure import TenantData, grant_erasure, revoke_erasure

revision = "0004_offb"
down_revision = "0003_idem"
branch_labels = None
depends_on = None

# Kept here rather than imported: a migration must not change when the code does.
TENANT_DATA = TenantData(
    owner_columns=("tenant_id", "sender_tenant", "receiver_tenant", "from_tenant", "to_tenant"),
    links={"deadlines.referral_id": "referrals.id"},
)


def _app_role() -> str:
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m referral migrate`"
        )
    return app_role


def upgrade() -> None:
    grant_erasure(op, _app_role(), TENANT_DATA)


def downgrade() -> None:
    # These had DELETE before: a withdrawn consent purges packages (0001), a rotation destroys
    # an old data key (0002).
    revoke_erasure(
        op, _app_role(), TENANT_DATA, keep=("share_packages", "data_keys", "idempotency_keys")
    )
