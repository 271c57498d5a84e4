"""row-level security: the tenant and all-tenants settings read once per query, not per row

The projections' policies compared every row with ``current_setting(...)``, which PostgreSQL
calls again for each row it reads: over the 100,000 referrals of the benchmark's funnel that
was 47 ms of 109, and 27 ms of 105 for the donor indicators. As scalar subqueries the settings
are read once per query (an InitPlan), and every row is compared with a constant. What a
policy lets through is unchanged: with no tenant set, the tenant compares as NULL and nothing
of any NGO is visible, unless the transaction set ``app.all_tenants``.

Revision ID: 0006_policies_once
Revises: 0005_persons_order
"""

from alembic import op

revision = "0006_policies_once"
down_revision = "0005_persons_order"
branch_labels = None
depends_on = None

#: Tables of one NGO (tenant_id) and of two (a referral's or return's sender and receiver).
_TENANT_TABLES = (
    "case_facts",
    "assistance_facts",
    "contact_facts",
    "report_counts",
    "case_persons",
)
_PAIR_TABLES = ("referral_facts", "return_facts")


def _visible(*, once: bool) -> tuple[str, str]:
    """The policy expressions for one NGO's rows and for two NGOs' rows."""
    current = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"
    every = "current_setting('app.all_tenants', true) = 'on'"
    if once:
        current, every = f"(SELECT {current})", f"(SELECT {every})"
    return (
        f"tenant_id = {current} OR {every}",
        f"sender_tenant = {current} OR receiver_tenant = {current} OR {every}",
    )


def _alter(*, once: bool) -> None:
    tenant, pair = _visible(once=once)
    for tables, visible in ((_TENANT_TABLES, tenant), (_PAIR_TABLES, pair)):
        for table in tables:
            op.execute(
                f'ALTER POLICY tenant_isolation ON "{table}" '
                f"USING ({visible}) WITH CHECK ({visible})"
            )


def upgrade() -> None:
    _alter(once=True)


def downgrade() -> None:
    _alter(once=False)
