"""Exports of a report's tables: CSV, XLSX and HXL-tagged CSV, from the already suppressed
tables (an export never sees a number the API would not show)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from openpyxl import Workbook

from reporting.reports.tables import ReportTable

ExportFormat = Literal["csv", "xlsx", "hxl"]

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "hxl": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

#: The tidy layout of CSV exports, and its HXL hashtags (Humanitarian Exchange Language):
#: one row per published cell, totals included.
HEADER = ("table", "row_header", "row", "column", "value")
HXL_TAGS = (
    "#meta+table",
    "#meta+dimension",
    "#meta+row",
    "#indicator+code",
    "#indicator+value+num",
)


def cells(table: ReportTable) -> Iterator[tuple[str, str, str, str, Any]]:
    """Every published cell of ``table`` as (table, row header, row, column, value)."""
    for r, row in enumerate(table.rows):
        for c, column in enumerate(table.columns):
            yield (table.name, table.row_header, row, column, _value(table.cells[r][c]))
        if table.row_totals is not None:
            yield (table.name, table.row_header, row, "total", table.row_totals[r])
    if table.column_totals is not None:
        for c, column in enumerate(table.columns):
            yield (table.name, table.row_header, "total", column, table.column_totals[c])
    if table.total is not None:
        yield (table.name, table.row_header, "total", "total", table.total)


def _value(value: Any) -> Any:
    return "" if value is None else value


def to_csv(tables: Sequence[ReportTable], *, hxl: bool = False) -> bytes:
    """A tidy CSV (UTF-8 with BOM, which spreadsheet programs need); ``hxl`` adds the tag row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    if hxl:
        writer.writerow(HXL_TAGS)
    for table in tables:
        writer.writerows(cells(table))
    return ("\ufeff" + buffer.getvalue()).encode()


def to_xlsx(tables: Sequence[ReportTable]) -> bytes:
    """One sheet per table, laid out as on screen (rows × columns, totals last)."""
    book = Workbook()
    book.remove(book.worksheets[0])
    used: set[str] = set()
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table.name, used))
        with_totals = table.row_totals is not None
        sheet.append([table.row_header, *table.columns, *(["total"] if with_totals else [])])
        for r, row in enumerate(table.rows):
            line: list[Any] = [row, *(_value(v) for v in table.cells[r])]
            if table.row_totals is not None:
                line.append(table.row_totals[r])
            sheet.append(line)
        if table.column_totals is not None:
            footer: list[Any] = ["total", *table.column_totals]
            if table.total is not None:
                footer.append(table.total)
            sheet.append(footer)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:28]
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}_{n}"
    used.add(candidate)
    return candidate


def export(tables: Sequence[ReportTable], fmt: ExportFormat) -> bytes:
    if fmt == "xlsx":
        return to_xlsx(tables)
    return to_csv(tables, hxl=fmt == "hxl")
