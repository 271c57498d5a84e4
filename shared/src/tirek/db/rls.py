"""Row-level security for tenant-owned tables, for use in Alembic migrations.

Every tenant-owned table carries ``tenant_id uuid NOT NULL`` and gets a FORCE-d policy that
shows and accepts only the rows of the tenant set for the current transaction. With no tenant
set, ``current_setting`` returns ``''`` (or NULL) and ``''::uuid`` raises or compares unknown:
the query fails closed, never returns another NGO's rows. The application role connects without
BYPASSRLS and owns nothing (FORCE matters for the owner only, who runs migrations).
"""

from __future__ import annotations

from collections.abc import Iterator

TENANT_SETTING = "app.tenant_id"
_CURRENT = f"NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"


def tenant_policy_statements(table: str, *, column: str = "tenant_id") -> Iterator[str]:
    """SQL that enables and forces RLS on ``table`` with a tenant-isolation policy."""
    yield f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY'
    yield f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY'
    yield (
        f'CREATE POLICY tenant_isolation ON "{table}" '
        f'USING ("{column}" = {_CURRENT}) WITH CHECK ("{column}" = {_CURRENT})'
    )


def grant_statements(
    table: str, role: str, privileges: str = "SELECT, INSERT, UPDATE"
) -> Iterator[str]:
    """Grants for the application role (no DELETE unless a table needs it)."""
    yield f'GRANT {privileges} ON "{table}" TO "{role}"'


def enable_tenant_rls(op: object, table: str, *, column: str = "tenant_id") -> None:
    """In an Alembic migration: ``enable_tenant_rls(op, "cases")``."""
    for statement in tenant_policy_statements(table, column=column):
        op.execute(statement)  # type: ignore[attr-defined]


def tables_without_forced_rls_sql() -> str:
    """Query listing public tables that have a ``tenant_id`` column but no FORCE RLS (for tests)."""
    return (
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' "
        "AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
        "AND a.attname = 'tenant_id' AND NOT a.attisdropped) "
        "AND NOT (c.relrowsecurity AND c.relforcerowsecurity) ORDER BY 1"
    )
