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

A sealed record (:mod:`tirek.crypto.records`) must be sealed first, as a flush requires:
:func:`~tirek.crypto.records.ensure_sealed` raises otherwise, before any statement.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Table, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from tirek.crypto.records import ensure_sealed

__all__ = ["insert_new"]


@cache
def _statement(table: Table, generated: tuple[str, ...]) -> Insert:
    """One statement object per table and set of generated columns: SQLAlchemy keeps its
    compiled form by the statement's cache key, which it computes once for a constant."""
    statement = insert(table)
    return statement.returning(*(table.c[key] for key in generated)) if generated else statement


async def insert_new(session: AsyncSession, *records: Any) -> None:
    """Insert each of ``records`` (new, mapped, of one table each) in the session's
    transaction, in order; see the module docstring."""
    for record in records:
        ensure_sealed(record)
    for record in records:
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
            if column.server_default is not None and column.key not in values
        )
        result = await session.execute(_statement(table, generated), values)
        if generated:
            row = result.one()
            for key, value in zip(generated, row, strict=True):
                setattr(record, mapper.get_property_by_column(table.c[key]).key, value)
