"""Everything of one tenant in a service's database: found, exported, and erased.

When an NGO leaves the consortium (``tenant.offboarded``) every service erases its rows, and
before that every service offers the NGO an export of them. Both work from the database as it
is, not from a list of tables someone must keep current: the ``public`` schema is reflected,
and a table belongs to the tenant when

- it has an *owner column* (``tenant_id`` by default; a service whose rows belong to two
  tenants names those columns too, e.g. ``sender_tenant``/``receiver_tenant``) equal to the
  tenant id, or a per-table owner column (``table_owners``, e.g. a directory's ``id``);
- or, for a table without one, a foreign key (or a declared ``links`` entry, for references
  the schema does not enforce) points to a row that belongs to the tenant.

So a table another change adds tomorrow is covered the day it exists, as long as it carries
``tenant_id`` or references a tenant's row. Erasure deletes children before parents, in the
caller's transaction (one transaction with the inbox row: a redelivered event erases nothing
twice), under the tenant's row-level security (:class:`tirek.db.UnitOfWork` with the
tenant), so no other tenant's row is even visible to it.

The application role owns nothing and has no DELETE unless granted: a service's migration
calls :func:`grant_erasure` (which reflects the same tables and grants DELETE on them). A
table added later without the grant makes :func:`erase_tenant` refuse before deleting
anything (:class:`ErasureRefused`, naming the table), never leave it behind silently.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Connection, MetaData, Table, delete, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.util import sort_tables

if TYPE_CHECKING:
    from alembic.operations import Operations

__all__ = [
    "ErasureRefused",
    "TenantData",
    "erase_tenant",
    "export_tenant",
    "grant_erasure",
    "revoke_erasure",
    "tenant_tables",
]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class ErasureRefused(RuntimeError):
    """The application role may not delete from every table holding the tenant's rows."""


@dataclass(frozen=True)
class TenantData:
    """How a service's rows belong to a tenant (see the module docstring)."""

    #: Columns that name the owning tenant, in any table that has them.
    owner_columns: tuple[str, ...] = ("tenant_id",)
    #: Owner columns of particular tables (``{"tenants": ("id",)}``: a directory row).
    table_owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: References the schema does not enforce: ``{"deadlines.referral_id": "referrals.id"}``.
    links: Mapping[str, str] = field(default_factory=dict)
    #: Tables never erased or exported even though they match (kept on purpose).
    keep: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        names = [*self.owner_columns, *self.table_owners, *self.keep]
        names += [c for cols in self.table_owners.values() for c in cols]
        names += [p for link in self.links.items() for ref in link for p in ref.split(".")]
        bad = [name for name in names if not _IDENT.match(name)]
        if bad:
            raise ValueError(f"not plain identifiers: {bad}")


def _reflect(connection: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(connection, schema=None)
    return metadata


def tenant_tables(
    metadata: MetaData, tenant_id: uuid.UUID, data: TenantData
) -> list[tuple[Table, ColumnElement[bool]]]:
    """Each table holding rows of the tenant, with the condition selecting them; parents
    before children (delete in reverse)."""
    conditions: dict[str, ColumnElement[bool]] = {}
    ordered: list[tuple[Table, ColumnElement[bool]]] = []
    links: dict[str, list[tuple[str, str, str]]] = {}
    for source, target in data.links.items():
        child_name, column = source.split(".")
        parent_name, parent_column = target.split(".")
        links.setdefault(child_name, []).append((column, parent_name, parent_column))
    # Parents first, a declared link counting as a foreign key.
    extra = [
        (metadata.tables[parent], metadata.tables[child])
        for child, refs in links.items()
        for _, parent, _ in refs
        if parent in metadata.tables and child in metadata.tables
    ]
    for table in sort_tables(metadata.tables.values(), extra_dependencies=extra):
        if table.name in data.keep:
            continue
        owners = [*data.owner_columns, *data.table_owners.get(table.name, ())]
        clauses: list[ColumnElement[bool]] = [
            table.c[name] == tenant_id for name in dict.fromkeys(owners) if name in table.c
        ]
        for constraint in table.foreign_key_constraints:
            parent = constraint.referred_table
            if parent.name not in conditions:
                continue
            mine = [element.parent for element in constraint.elements]
            theirs = [element.column for element in constraint.elements]
            referring = tuple_(*mine) if len(mine) > 1 else mine[0]
            clauses.append(referring.in_(select(*theirs).where(conditions[parent.name])))
        for column, parent_name, parent_column in links.get(table.name, ()):
            parent_table = metadata.tables.get(parent_name)
            if parent_table is None or parent_name not in conditions:
                continue
            clauses.append(
                table.c[column].in_(
                    select(parent_table.c[parent_column]).where(conditions[parent_name])
                )
            )
        if clauses:
            condition = or_(*clauses)
            conditions[table.name] = condition
            ordered.append((table, condition))
    return ordered


async def _tables(
    session: AsyncSession, tenant_id: uuid.UUID, data: TenantData
) -> list[tuple[Table, ColumnElement[bool]]]:
    connection = await session.connection()
    metadata = await connection.run_sync(_reflect)
    return tenant_tables(metadata, tenant_id, data)


async def erase_tenant(
    session: AsyncSession, tenant_id: uuid.UUID, data: TenantData | None = None
) -> dict[str, int]:
    """Delete every row of the tenant, children first, in the caller's transaction (open it
    with the tenant set: ``UnitOfWork(sessions, tenant_id)``); rows deleted per table.

    Raises :class:`ErasureRefused` before deleting anything when the role may not delete
    from one of the tables (a migration forgot :func:`grant_erasure`).
    """
    tables = await _tables(session, tenant_id, data or TenantData())
    refused = []
    for table, _ in tables:
        allowed = await session.scalar(
            text("SELECT has_table_privilege(current_user, :name, 'DELETE')"),
            {"name": f'"{table.name}"'},
        )
        if not allowed:
            refused.append(table.name)
    if refused:
        raise ErasureRefused(
            f"no DELETE on {', '.join(refused)}: grant it in a migration "
            "(tirek.db.erasure.grant_erasure)"
        )
    erased: dict[str, int] = {}
    for table, condition in reversed(tables):
        result = await session.execute(delete(table).where(condition))
        erased[table.name] = int(getattr(result, "rowcount", 0) or 0)
    return erased


async def export_tenant(
    session: AsyncSession, tenant_id: uuid.UUID, data: TenantData | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tenant as JSON-ready dicts, by table (parents first); read in the
    caller's transaction, which should have the tenant set."""
    exported: dict[str, list[dict[str, Any]]] = {}
    for table, condition in await _tables(session, tenant_id, data or TenantData()):
        keys = list(table.primary_key.columns) or list(table.columns)
        rows = await session.execute(select(table).where(condition).order_by(*keys))
        exported[table.name] = [
            to_jsonable_python(dict(row._mapping), fallback=str) for row in rows
        ]
    return exported


def grant_erasure(
    op: Operations, app_role: str, data: TenantData | None = None, *, keep: Collection[str] = ()
) -> list[str]:
    """In a service's Alembic migration: let ``app_role`` delete from every table that
    :func:`erase_tenant` would erase (reflected now, with the same rules); the tables."""
    bind = op.get_bind()
    tables = tenant_tables(_reflect(bind), uuid.UUID(int=0), data or TenantData())
    names = [table.name for table, _ in tables if table.name not in keep]
    quote = bind.dialect.identifier_preparer.quote
    for name in names:
        op.execute(f"GRANT DELETE ON {quote(name)} TO {quote(app_role)}")
    return names


def revoke_erasure(
    op: Operations, app_role: str, data: TenantData | None = None, *, keep: Collection[str] = ()
) -> list[str]:
    """The downgrade of :func:`grant_erasure`: revoke DELETE again, except on ``keep`` (tables
    whose DELETE an earlier migration granted for a reason of its own)."""
    bind = op.get_bind()
    tables = tenant_tables(_reflect(bind), uuid.UUID(int=0), data or TenantData())
    names = [table.name for table, _ in tables if table.name not in keep]
    quote = bind.dialect.identifier_preparer.quote
    for name in names:
        op.execute(f"REVOKE DELETE ON {quote(name)} FROM {quote(app_role)}")
    return names
