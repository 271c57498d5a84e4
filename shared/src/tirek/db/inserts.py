"""New ORM records written as one Core ``INSERT`` each, without the unit of work.

A flush works out what changed in every record the session holds, orders its statements and
keeps the records in the identity map. For records a use case has just built and will not
change again in its transaction, that bookkeeping was most of what storing them cost: in
intake's registration, two flushes took about a sixth of the CPU of the whole request
(``make bench``, docs/benchmarks.md). :func:`insert_new` sends ``INSERT ... RETURNING`` with
the values the record holds (column defaults fill the others, as in a flush) and sets on the
record what the database generated (server defaults such as ``created_at``)::

    _seal_case(case, keys)
    await insert_new(session, case.person, case)

The records stay *transient*: the session does not know them. Read them, answer with them,
refer to their ids; change them later through a statement or a record loaded anew, never by
adding them to a session (a flush would insert them a second time).

:func:`insert_new_with` inserts one record in a statement that does more in the same round
trip: a column computed by the database (intake's case number, from its counter) and other
rows written alongside. Each round trip of a transaction holding a lock is time every other
transaction waiting for that lock waits too.

A sealed record (:mod:`tirek.crypto.records`) must be sealed first, as a flush requires:
:func:`~tirek.crypto.records.ensure_sealed` raises otherwise, before any statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import CTE, ColumnElement, Insert, Table, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from tirek.crypto.records import ensure_sealed

__all__ = ["insert_new", "insert_new_with"]


@cache
def _statement(
    table: Table,
    generated: tuple[str, ...],
    computed: tuple[tuple[str, ColumnElement[Any]], ...] = (),
    ctes: tuple[CTE, ...] = (),
) -> Insert:
    """One statement object per table, generated columns and expressions: SQLAlchemy keeps
    its compiled form by the statement's cache key, which it computes once for a constant."""
    statement = insert(table)
    if computed:
        statement = statement.values(dict(computed))
    if ctes:
        statement = statement.add_cte(*ctes)
    returned = (*generated, *(key for key, _ in computed))
    return statement.returning(*(table.c[key] for key in returned)) if returned else statement


async def _insert(
    session: AsyncSession,
    record: Any,
    computed: Mapping[str, ColumnElement[Any]],
    ctes: tuple[CTE, ...],
    params: Mapping[str, Any],
) -> None:
    mapper = inspect(type(record))
    table = mapper.local_table
    assert isinstance(table, Table), f"{type(record).__name__} is not mapped to one table"
    values: dict[str, Any] = {}
    for attribute in mapper.column_attrs:
        if attribute.key in record.__dict__:
            values[attribute.columns[0].key] = record.__dict__[attribute.key]
    generated = tuple(
        column.key
        for column in table.columns
        if column.server_default is not None
        and column.key not in values
        and column.key not in computed
    )
    statement = _statement(table, generated, tuple(computed.items()), ctes)
    result = await session.execute(statement, {**values, **params})
    returned = (*generated, *computed)
    if returned:
        row = result.one()
        for key, value in zip(returned, row, strict=True):
            setattr(record, mapper.get_property_by_column(table.c[key]).key, value)


async def insert_new(session: AsyncSession, *records: Any) -> None:
    """Insert each of ``records`` (new, mapped, of one table each) in the session's
    transaction, in order; see the module docstring."""
    for record in records:
        ensure_sealed(record)
    for record in records:
        await _insert(session, record, {}, (), {})


async def insert_new_with(
    session: AsyncSession,
    record: Any,
    *,
    computed: Mapping[str, ColumnElement[Any]],
    ctes: tuple[CTE, ...] = (),
    params: Mapping[str, Any],
) -> None:
    """:func:`insert_new` of one record, in a statement that does more in the same round trip.

    ``computed`` columns take the value of an SQL expression, which may read a CTE (a number
    taken from a counter); ``ctes`` are statements the database runs with the insert even if
    nothing reads them (rows written alongside); ``params`` bind their parameters (named
    apart from the record's columns). The computed values are set on the record, like the
    generated ones. Build ``computed`` and ``ctes`` once, as module constants: the statement
    is kept by them (a new expression per call would be compiled per call).
    """
    ensure_sealed(record)
    await _insert(session, record, computed, ctes, params)
