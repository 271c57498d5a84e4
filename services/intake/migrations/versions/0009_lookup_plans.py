"""The duplicate and partner lookups read what matches, not every person of the NGO.

``make bench`` found a registration's database work growing with the NGO's persons: at 2,000
persons per NGO, ``persons_matching`` (0008) took 4.7 ms and the duplicate lookup around it
9.3 ms, against 0.6 and 1.7 ms at 700 (pg_stat_statements). Four things did it:

- ``persons_matching``: the planner ANDed the GIN match with the tenant's b-tree index, so
  each call read the tenant's whole index entry and, under statistics a little stale, every
  one of its persons' rows to filter them. The names and documents are now matched alone, as a
  materialized CTE that only the GIN indexes can answer, and the tenant filters those few rows.
  A blind index is keyed by the NGO's own key, so another NGO's rows are practically never
  among them; they are filtered all the same.
- The GIN indexes' pending list: by default a GIN index files new entries in an unsorted list
  that every search reads whole, until a vacuum, an autoanalyze or 4 MB of it files them. With
  a lookup for every insert, that list was most of each lookup's reads (81 pages for one name
  at 10,000 persons, 16 without it). ``fastupdate = off`` files each person's few keys at once.
- The cases of the matched persons: a set-returning function is assumed to return 1,000 rows,
  so the planner hashed them against a scan of every case. ``ROWS 10`` (a person is rarely
  registered more than a few times) lets it look cases up by ``ix_cases_person_id``.
- ``partners_holding_hints``: the hint's rows are read by ``ix_partner_hints_hint`` first, not
  ANDed with each partner's whole ``ix_partner_hints_tenant_id`` entry.

- Plans kept while the tables were small: PL/pgSQL keeps a function's plan for the session,
  and one made while persons held a few rows scanned them all, for as long as the connection
  lived (10,198 rows read for 11 found, under ``make bench``; statistics that would have
  replanned it come only with an autoanalyze). A lookup whose whole point is an index has no
  use for a sequential scan: both functions run with ``enable_seqscan = off``, so any plan
  they keep, whatever the table's size when it was made, reads the index.

The functions keep their signatures, owners and grants (CREATE OR REPLACE).

Revision ID: 0009_lookup
Revises: 0008_match
"""

from alembic import op

revision = "0009_lookup"
down_revision = "0008_match"
branch_labels = None
depends_on = None

_MATCHING = """
CREATE OR REPLACE FUNCTION persons_matching(names text[], documents text[])
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
ROWS 10
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
BEGIN
    RETURN QUERY
    WITH holding AS MATERIALIZED (
        SELECT p.id, p.tenant_id
        FROM public.persons p
        WHERE p.name_indexes && persons_matching.names::varchar(32)[]
           OR p.document_indexes && persons_matching.documents::varchar(32)[]
    )
    SELECT holding.id
    FROM holding
    WHERE holding.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid;
END
$$
"""

_PARTNERS = """
CREATE OR REPLACE FUNCTION partners_holding_hints(hints text[], on_day date)
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
ROWS 5
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
BEGIN
    RETURN QUERY
    WITH holding AS MATERIALIZED (
        SELECT DISTINCT h.tenant_id
        FROM public.partner_hints h
        WHERE h.hint = ANY (partners_holding_hints.hints)
    )
    SELECT holding.tenant_id
    FROM holding
    JOIN public.tenants t ON t.id = holding.tenant_id AND t.active
    JOIN public.sharing_agreements a ON a.to_tenant = holding.tenant_id
    WHERE a.from_tenant = NULLIF(current_setting('app.tenant_id', true), '')::uuid
      AND a.to_tenant <> a.from_tenant
      AND a.revoked_at IS NULL
      AND a.valid_from <= partners_holding_hints.on_day
      AND (a.valid_until IS NULL OR a.valid_until >= partners_holding_hints.on_day)
    GROUP BY holding.tenant_id;
END
$$
"""

#: 0008's functions, as they were (migrations are frozen snapshots: see 0007).
_MATCHING_0008 = """
CREATE OR REPLACE FUNCTION persons_matching(names text[], documents text[])
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
ROWS 1000
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

_PARTNERS_0008 = """
CREATE OR REPLACE FUNCTION partners_holding_hints(hints text[], on_day date)
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
ROWS 1000
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


_GIN_INDEXES = ("ix_persons_name_indexes", "ix_persons_document_indexes")


def upgrade() -> None:
    for index in _GIN_INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")
    op.execute(_MATCHING)
    op.execute(_PARTNERS)


def downgrade() -> None:
    for index in _GIN_INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (fastupdate)")
    op.execute(_PARTNERS_0008)
    op.execute(_MATCHING_0008)
