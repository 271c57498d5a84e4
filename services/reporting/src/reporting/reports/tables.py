"""The one shape every report section has: a table of counts, suppressed when cross-NGO."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from reporting.reports.scope import Scope
from reporting.suppression import Cell, suppress

#: A statistic (a median, ...) is published only over at least ``threshold`` events.
Stat = float | int | str | None


class ReportTable(BaseModel):
    """Rows × columns of counts (or statistics), with totals where a sum means something."""

    name: str
    row_header: str
    rows: list[str]
    columns: list[str]
    cells: list[list[Cell | float | None]]
    row_totals: list[Cell] | None = None
    column_totals: list[Cell] | None = None
    total: Cell | None = None
    #: True when small cells were suppressed (cross-NGO view).
    suppressed: bool = False


def count_table(
    name: str,
    row_header: str,
    counts: Mapping[tuple[str, str], int],
    scope: Scope,
    *,
    rows: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    row_totals: bool = True,
    column_totals: bool = True,
) -> ReportTable:
    """A table from ``{(row, column): count}``; cross-NGO scopes get small-cell suppression.

    ``rows``/``columns`` fix the order (and include empty ones); otherwise the keys, sorted.
    """
    row_keys = list(rows) if rows is not None else sorted({r for r, _ in counts})
    col_keys = list(columns) if columns is not None else sorted({c for _, c in counts})
    grid = [[counts.get((r, c), 0) for c in col_keys] for r in row_keys]
    if scope.suppressed:
        published = suppress(
            grid, scope.threshold, row_totals=row_totals, column_totals=column_totals
        )
        return ReportTable(
            name=name,
            row_header=row_header,
            rows=row_keys,
            columns=col_keys,
            cells=[list(row) for row in published.cells],
            row_totals=published.row_totals,
            column_totals=published.column_totals,
            total=published.total,
            suppressed=True,
        )
    return ReportTable(
        name=name,
        row_header=row_header,
        rows=row_keys,
        columns=col_keys,
        cells=[list(row) for row in grid],
        row_totals=[sum(row) for row in grid] if row_totals else None,
        column_totals=(
            [sum(row[c] for row in grid) for c in range(len(col_keys))] if column_totals else None
        ),
        total=sum(map(sum, grid)) if row_totals and column_totals else None,
    )
