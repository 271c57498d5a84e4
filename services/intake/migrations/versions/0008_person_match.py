"""Blind-index matches of a person through the GIN indexes: ``persons_matching(names,
documents)``

Under row-level security PostgreSQL may not evaluate a query's non-leakproof operators before
the policy's condition, and array overlap (``&&``) is not leakproof: every duplicate check and
name or document search read all of the NGO's persons and tested each, however many there were
(``make bench`` found it: about 1.3 ms of the database per registration at 641 persons per NGO,
growing with them). ``persons_matching`` answers the ids of the *current transaction's
tenant's* persons holding any of the given name or document blind indexes, with the indexes of
0003. It is SECURITY DEFINER, as ``partners_holding_hints`` (0004): a SELECT policy lets the
owner, who owns the function, read persons unfiltered, and the function filters by the tenant
itself; the application role may only execute it. Both it and ``partners_holding_hints``
(replaced here) are PL/pgSQL, which keeps their plans for the session.

Revision ID: 0008_match
Revises: 0007_offb
"""

from alembic import context, op

revision = "0008_match"
down_revision = "0007_offb"
branch_labels = None
depends_on = None

_MATCHING = """
CREATE FUNCTION persons_matching(names text[], documents text[])
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT p.id
    FROM public.persons p
    WHERE p.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
      AND (p.name_indexes && persons_matching.names::varchar(32)[]
           OR p.document_indexes && persons_matching.documents::varchar(32)[]);
END
$$
"""
# The parameters are qualified with the function's name: a column of the same name
# (persons.documents, the sealed documents) would win over a bare parameter name.

#: partners_holding_hints of 0004, the same query in PL/pgSQL: a SECURITY DEFINER function
#: is never inlined, and an SQL one plans its query on every call (about 0.2 ms of the
#: database per registration each, measured with 1,000 calls), where PL/pgSQL keeps the plan
#: for the session.
_PARTNERS = """
CREATE OR REPLACE FUNCTION partners_holding_hints(hints text[], on_day date)
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT DISTINCT h.tenant_id
    FROM public.partner_hints h
    JOIN public.tenants t ON t.id = h.tenant_id AND t.active
    JOIN public.sharing_agreements a ON a.to_tenant = h.tenant_id
    WHERE h.hint = ANY (partners_holding_hints.hints)
      AND a.from_tenant = NULLIF(current_setting('app.tenant_id', true), '')::uuid
      AND a.to_tenant <> a.from_tenant
      AND a.revoked_at IS NULL
      AND a.valid_from <= partners_holding_hints.on_day
      AND (a.valid_until IS NULL OR a.valid_until >= partners_holding_hints.on_day);
END
$$
"""

_PARTNERS_SQL = """
CREATE OR REPLACE FUNCTION partners_holding_hints(hints text[], on_day date)
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


def upgrade() -> None:
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m intake migrate`"
        )
    op.execute(
        "CREATE POLICY person_match_by_owner ON persons FOR SELECT TO CURRENT_USER USING (true)"
    )
    op.execute(_MATCHING)
    op.execute("REVOKE ALL ON FUNCTION persons_matching(text[], text[]) FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION persons_matching(text[], text[]) TO "{app_role}"')
    op.execute(_PARTNERS)  # CREATE OR REPLACE keeps 0004's grants


def downgrade() -> None:
    op.execute(_PARTNERS_SQL)
    op.execute("DROP FUNCTION persons_matching(text[], text[])")
    op.execute("DROP POLICY person_match_by_owner ON persons")
