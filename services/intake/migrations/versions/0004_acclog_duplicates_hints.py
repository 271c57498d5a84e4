"""Access log (append-only), duplicate decisions, sharing agreements and partner hints

- ``access_log``: FORCE RLS; the application role may INSERT and SELECT, never UPDATE or
  DELETE (append-only).
- ``duplicate_decisions``: FORCE RLS; a pair of one NGO's cases, confirmed or dismissed.
- ``sharing_agreements``: from ``agreement.*`` events; no one tenant's data, no RLS.
- ``partner_hints``: FORCE RLS; consortium-keyed indexes of persons. The one way across
  tenants is ``partners_holding_hints(hints, on_day)``, SECURITY DEFINER, which answers only
  the ids of active NGOs holding a hint that the current transaction's tenant may refer to
  under an agreement in force. For it (and it alone) a SELECT policy lets the owner, who owns
  the function, read every tenant's hints; the application role may only execute it.

Existing persons get their hints from ``python -m intake reindex`` (it needs the master key).

Revision ID: 0004_acclog
Revises: 0003
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from tirek.db.rls import enable_tenant_rls, grant_statements

revision = "0004_acclog"
down_revision = "0003"
branch_labels = None
depends_on = None

_LOOKUP = """
CREATE FUNCTION partners_holding_hints(hints text[], on_day date)
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT h.tenant_id
    FROM public.partner_hints h
    JOIN public.tenants t ON t.id = h.tenant_id AND t.active
    JOIN public.sharing_agreements a ON a.to_tenant = h.tenant_id
    WHERE h.hint = ANY (hints)
      AND a.from_tenant = NULLIF(current_setting('app.tenant_id', true), '')::uuid
      AND a.to_tenant <> a.from_tenant
      AND a.revoked_at IS NULL
      AND a.valid_from <= on_day
      AND (a.valid_until IS NULL OR a.valid_until >= on_day)
$$
"""


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m intake migrate`"
        )

    op.create_table(
        "access_log",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("fields", postgresql.ARRAY(sa.String(length=48)), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("operation", sa.String(length=48), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index("ix_access_log_tenant_at", "access_log", ["tenant_id", "at"])
    op.create_index("ix_access_log_case_at", "access_log", ["case_id", "at"])
    enable_tenant_rls(op, "access_log")
    for statement in grant_statements("access_log", app_role, "SELECT, INSERT"):
        op.execute(statement)

    op.create_table(
        "duplicate_decisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_a", sa.Uuid(), nullable=False),
        sa.Column("case_b", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        _created_at(),
        sa.CheckConstraint("case_a < case_b", name=op.f("ck_duplicate_decisions_ordered_pair")),
        sa.ForeignKeyConstraint(
            ["case_a"], ["cases.id"], name=op.f("fk_duplicate_decisions_case_a_cases")
        ),
        sa.ForeignKeyConstraint(
            ["case_b"], ["cases.id"], name=op.f("fk_duplicate_decisions_case_b_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_decisions")),
        sa.UniqueConstraint("tenant_id", "case_a", "case_b", name="tenant_pair"),
    )
    for column in ("case_a", "case_b", "tenant_id"):
        op.create_index(op.f(f"ix_duplicate_decisions_{column}"), "duplicate_decisions", [column])
    enable_tenant_rls(op, "duplicate_decisions")
    for statement in grant_statements("duplicate_decisions", app_role):
        op.execute(statement)

    op.create_table(
        "sharing_agreements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("from_tenant", sa.Uuid(), nullable=True),
        sa.Column("to_tenant", sa.Uuid(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_agreements")),
    )
    op.create_index(
        op.f("ix_sharing_agreements_from_tenant"), "sharing_agreements", ["from_tenant"]
    )
    for statement in grant_statements("sharing_agreements", app_role):
        op.execute(statement)

    op.create_table(
        "partner_hints",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("hint", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_partner_hints_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("person_id", "hint", name=op.f("pk_partner_hints")),
    )
    op.create_index(op.f("ix_partner_hints_hint"), "partner_hints", ["hint"])
    op.create_index(op.f("ix_partner_hints_tenant_id"), "partner_hints", ["tenant_id"])
    enable_tenant_rls(op, "partner_hints")
    # A person's hints are replaced when the name, birth date or citizenship changes.
    for statement in grant_statements("partner_hints", app_role, "SELECT, INSERT, DELETE"):
        op.execute(statement)
    op.execute(
        "CREATE POLICY hint_lookup_by_owner ON partner_hints FOR SELECT TO CURRENT_USER "
        "USING (true)"
    )
    op.execute(_LOOKUP)
    op.execute("REVOKE ALL ON FUNCTION partners_holding_hints(text[], date) FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION partners_holding_hints(text[], date) TO "{app_role}"')


def downgrade() -> None:
    op.execute("DROP FUNCTION partners_holding_hints(text[], date)")
    op.drop_table("partner_hints")
    op.drop_table("sharing_agreements")
    op.drop_table("duplicate_decisions")
    op.drop_table("access_log")
