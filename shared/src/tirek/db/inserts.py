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
trip: a column computed by the database (intake's case number, from its counter), other new
records it refers to (the case's person) and other rows written alongside (an outbox row).
Each round trip costs the service and the database about as much as a small statement's
work, and a round trip of a transaction holding a lock is time every other transaction
waiting for that lock waits too.

A sealed record (:mod:`tirek.crypto.records`) must be sealed first, as a flush requires:
:func:`~tirek.crypto.records.ensure_sealed` raises otherwise, before any statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import CTE, ColumnElement, Insert, Table, bindparam, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from tirek.crypto.records import ensure_sealed

__all__ = ["insert_new", "insert_new_with"]


@dataclass(frozen=True)
class _Shape:
    """What a statement writes of one record: its table, the columns it gives values for, and
    the ones the database fills (server defaults, read back)."""

    table: Table
    given: tuple[str, ...]
    generated: tuple[str, ...]


def _bound(table: Table, key: str) -> str:
    """The parameter of ``key`` of a record written alongside (apart from the main record's
    columns, bound by their own names, and from the caller's parameters)."""
    return f"new_{table.name}__{key}"


@cache
def _alongside_cte(shape: _Shape) -> CTE:
    table = shape.table
    values = {key: bindparam(_bound(table, key), type_=table.c[key].type) for key in shape.given}
    statement = insert(table).values(values)
    if shape.generated:
        statement = statement.returning(*(table.c[key] for key in shape.generated))
    return statement.cte(f"new_{table.name}")


@cache
def _statement(
    table: Table,
    generated: tuple[str, ...],
    computed: tuple[tuple[str, ColumnElement[Any]], ...] = (),
    ctes: tuple[CTE, ...] = (),
    alongside: tuple[_Shape, ...] = (),
) -> Insert:
    """One statement object per table, generated columns and expressions: SQLAlchemy keeps
    its compiled form by the statement's cache key, which it computes once for a constant."""
    statement = insert(table)
    if computed:
        statement = statement.values(dict(computed))
    written = [_alongside_cte(shape) for shape in alongside]
    if written or ctes:
        statement = statement.add_cte(*written, *ctes)
    returned: list[ColumnElement[Any]] = [table.c[key] for key in generated]
    returned += [table.c[key] for key, _ in computed]
    for shape, cte in zip(alongside, written, strict=True):
        # What the database filled in a record written alongside, read through the CTE.
        returned += [select(cte.c[key]).scalar_subquery() for key in shape.generated]
    return statement.returning(*returned) if returned else statement


def _values(record: Any) -> tuple[Any, _Shape, dict[str, Any]]:
    """The record's mapper, what a statement writes of it, and the column values it holds."""
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
    return mapper, _Shape(table, tuple(values), generated), values


def _alongside_values(record: Any) -> tuple[_Shape, dict[str, Any]]:
    """A record written alongside, with the columns' Python defaults applied (SQLAlchemy
    applies them to the main record's statement, not to a CTE's), and its parameters."""
    _, shape, values = _values(record)
    for column in shape.table.columns:
        default = column.default
        if column.key in values or default is None:
            continue
        if getattr(default, "is_callable", False):
            values[column.key] = default.arg(None)  # type: ignore[attr-defined]
        elif getattr(default, "is_scalar", False):
            values[column.key] = default.arg  # type: ignore[attr-defined]
    given = tuple(sorted(values))
    shape = _Shape(shape.table, given, shape.generated)
    return shape, {_bound(shape.table, key): values[key] for key in given}


def _set_returned(record: Any, mapper: Any, table: Table, keys: Any, values: Any) -> None:
    for key, value in zip(keys, values, strict=True):
        setattr(record, mapper.get_property_by_column(table.c[key]).key, value)


async def _insert(
    session: AsyncSession,
    record: Any,
    computed: Mapping[str, ColumnElement[Any]],
    ctes: tuple[CTE, ...],
    params: Mapping[str, Any],
    alongside: tuple[Any, ...] = (),
) -> None:
    mapper, shape, values = _values(record)
    generated = tuple(key for key in shape.generated if key not in computed)
    shapes: list[_Shape] = []
    for other in alongside:
        other_shape, bound = _alongside_values(other)
        shapes.append(other_shape)
        values |= bound
    statement = _statement(shape.table, generated, tuple(computed.items()), ctes, tuple(shapes))
    result = await session.execute(statement, {**values, **params})
    returned = (*generated, *computed)
    if not returned and not any(other.generated for other in shapes):
        return
    row = iter(result.one())
    _set_returned(record, mapper, shape.table, returned, [next(row) for _ in returned])
    for other, other_shape in zip(alongside, shapes, strict=True):
        read = [next(row) for _ in other_shape.generated]
        _set_returned(other, inspect(type(other)), other_shape.table, other_shape.generated, read)


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
    alongside: tuple[Any, ...] = (),
) -> None:
    """:func:`insert_new` of one record, in a statement that does more in the same round trip.

    ``computed`` columns take the value of an SQL expression, which may read a CTE (a number
    taken from a counter); ``ctes`` are statements the database runs with the insert even if
    nothing reads them (rows written alongside); ``params`` bind their parameters (named
    apart from the record's columns). The computed values are set on the record, like the
    generated ones. Build ``computed`` and ``ctes`` once, as module constants: the statement
    is kept by them (a new expression per call would be compiled per call).

    ``alongside``: other new records inserted by the same statement, each as a CTE
    ``new_<table>`` (a case's person, which the case refers to: foreign keys are checked at
    the statement's end). Defaults apply to them as to ``record``, and what the database
    filled is set on them too.
    """
    for each in (record, *alongside):
        ensure_sealed(each)
    await _insert(session, record, computed, ctes, params, alongside)
