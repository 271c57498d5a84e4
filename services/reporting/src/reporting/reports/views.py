"""``/v1/reports/...``: every report as JSON tables, and as CSV, XLSX or HXL exports."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from reporting.deps import CurrentScope, Now, ReportFilters, ScopedReading
from reporting.reports import queries
from reporting.reports.exports import MEDIA_TYPES, export
from reporting.reports.scope import Filters, Scope
from reporting.reports.tables import ReportTable

router = APIRouter(prefix="/v1/reports", tags=["reports"])


class ReportName(StrEnum):
    SUMMARY = "summary"
    ASSISTANCE = "assistance"
    REFERRALS = "referrals"
    RETURNS = "returns"
    INDICATORS = "indicators"
    TIMESERIES = "timeseries"


class Report(BaseModel):
    report: ReportName
    #: "ngo": one NGO in full; "consortium": every NGO, small cells suppressed.
    scope: Literal["ngo", "consortium"]
    threshold: int
    tables: list[ReportTable]


Measure = Annotated[
    Literal[
        "cases_opened",
        "cases_closed",
        "assistance_records",
        "contacts",
        "referrals_sent",
        "returns_arrived",
    ],
    Query(),
]
Interval = Annotated[Literal["week", "month"], Query()]


async def _tables(
    name: ReportName,
    reading: ScopedReading,
    scope: Scope,
    filters: Filters,
    now: Now,
    measure: str,
    interval: Literal["week", "month"],
) -> list[ReportTable]:
    async with reading as session:
        match name:
            case ReportName.SUMMARY:
                return await queries.summary(session, scope, filters)
            case ReportName.ASSISTANCE:
                return await queries.assistance(session, scope, filters)
            case ReportName.REFERRALS:
                return await queries.referrals(session, scope, filters, now)
            case ReportName.RETURNS:
                return await queries.returns(session, scope, filters, now)
            case ReportName.INDICATORS:
                return await queries.indicators(session, scope, filters)
            case ReportName.TIMESERIES:
                return await queries.timeseries(session, scope, filters, measure, interval)


def _report(name: ReportName, scope: Scope, tables: list[ReportTable]) -> Report:
    return Report(
        report=name,
        scope="consortium" if scope.suppressed else "ngo",
        threshold=scope.threshold,
        tables=tables,
    )


@router.get("/summary", response_model=Report)
async def summary(
    reading: ScopedReading, scope: CurrentScope, filters: ReportFilters, now: Now
) -> Report:
    """Cases opened and closed; people by sex, age band, citizenship, category."""
    tables = await _tables(ReportName.SUMMARY, reading, scope, filters, now, "", "month")
    return _report(ReportName.SUMMARY, scope, tables)


@router.get("/assistance", response_model=Report)
async def assistance(
    reading: ScopedReading, scope: CurrentScope, filters: ReportFilters, now: Now
) -> Report:
    """Assistance records by type and mode; distinct persons assisted."""
    tables = await _tables(ReportName.ASSISTANCE, reading, scope, filters, now, "", "month")
    return _report(ReportName.ASSISTANCE, scope, tables)


@router.get("/referrals", response_model=Report)
async def referrals(
    reading: ScopedReading, scope: CurrentScope, filters: ReportFilters, now: Now
) -> Report:
    """The referral funnel by sender and by pair; answer and completion times in hours."""
    tables = await _tables(ReportName.REFERRALS, reading, scope, filters, now, "", "month")
    return _report(ReportName.REFERRALS, scope, tables)


@router.get("/returns", response_model=Report)
async def returns(
    reading: ScopedReading, scope: CurrentScope, filters: ReportFilters, now: Now
) -> Report:
    """Returns planned, arrived and overdue, by route and border crossing."""
    tables = await _tables(ReportName.RETURNS, reading, scope, filters, now, "", "month")
    return _report(ReportName.RETURNS, scope, tables)


@router.get("/indicators", response_model=Report)
async def indicators(
    reading: ScopedReading, scope: CurrentScope, filters: ReportFilters, now: Now
) -> Report:
    """Donor indicators (defined in ``indicators.toml``) per project."""
    tables = await _tables(ReportName.INDICATORS, reading, scope, filters, now, "", "month")
    return _report(ReportName.INDICATORS, scope, tables)


@router.get("/timeseries", response_model=Report)
async def timeseries(
    reading: ScopedReading,
    scope: CurrentScope,
    filters: ReportFilters,
    now: Now,
    measure: Measure = "cases_opened",
    interval: Interval = "month",
) -> Report:
    """One measure per week or month and NGO."""
    tables = await _tables(ReportName.TIMESERIES, reading, scope, filters, now, measure, interval)
    return _report(ReportName.TIMESERIES, scope, tables)


@router.get(
    "/{report}/export",
    response_class=Response,
    responses={200: {"content": {media: {} for media in set(MEDIA_TYPES.values())}}},
)
async def export_report(
    report: ReportName,
    reading: ScopedReading,
    scope: CurrentScope,
    filters: ReportFilters,
    now: Now,
    format: Annotated[Literal["csv", "xlsx", "hxl"], Query()] = "csv",
    measure: Measure = "cases_opened",
    interval: Interval = "month",
) -> Response:
    """A report as CSV, XLSX or HXL-tagged CSV, with the same suppression as the API."""
    tables = await _tables(report, reading, scope, filters, now, measure, interval)
    extension = "csv" if format == "hxl" else format
    suffix = "-hxl" if format == "hxl" else ""
    return Response(
        export(tables, format),
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="tirek-{report.value}{suffix}.{extension}"'
        },
    )
