# ruff: noqa: S608 - SQL is assembled from constant fragments; every value is bound.
"""The reports: SQL over the active generation of the projections, shaped into tables.

Every query is scoped twice: in code (the NGO's rows only, unless the scope is cross-NGO)
and underneath by row-level security (the unit of work sets the tenant, or the all-tenants
flag for a cross-NGO scope). Filters are bound parameters; nothing a caller sends is
formatted into SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.reports.indicators import Indicator, load_indicators
from reporting.reports.scope import Filters, Scope
from reporting.reports.tables import ReportTable, count_table
from reporting.suppression import mark
from tirek.events.intake import AgeBand, AssistanceMode, AssistanceType, Sex

_GEN = "(SELECT active FROM projection_generations WHERE id = 1)"

Interval = Literal["week", "month"]
Measure = Literal[
    "cases_opened",
    "cases_closed",
    "assistance_records",
    "contacts",
    "referrals_sent",
    "returns_arrived",
]
MEASURES: tuple[str, ...] = Measure.__args__  # type: ignore[attr-defined]


@dataclass
class _Where:
    """WHERE clauses and their bound parameters, built from fixed fragments only."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, clause: str, **params: Any) -> None:
        self.clauses.append(clause)
        self.params.update(params)

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) or "true"


def _where(
    scope: Scope,
    filters: Filters,
    *,
    alias: str = "f",
    owner: str = "tenant_id",
    day: str | None,
    project: str | None = None,
    pair: bool = False,
) -> _Where:
    """Clauses for the active generation, the scope, the period, country, NGO and project.

    ``owner`` is the NGO column (``t`` is the joined tenant label); ``pair`` tables belong to
    their sender and receiver, and an NGO sees both kinds.
    """
    where = _Where()
    where.add(f"{alias}.generation = {_GEN}")
    if scope.tenant_id is not None:
        if pair:
            where.add(
                f"({alias}.sender_tenant = :scope OR {alias}.receiver_tenant = :scope)",
                scope=scope.tenant_id,
            )
        else:
            where.add(f"{alias}.{owner} = :scope", scope=scope.tenant_id)
    if day is not None and filters.date_from is not None:
        where.add(f"{day} >= :date_from", date_from=filters.date_from)
    if day is not None and filters.date_to is not None:
        where.add(f"{day} <= :date_to", date_to=filters.date_to)
    if filters.country is not None:
        where.add("t.country = :country", country=filters.country)
    if filters.ngo is not None:
        if pair:
            where.add(
                f"({alias}.sender_tenant = :ngo OR {alias}.receiver_tenant = :ngo)",
                ngo=filters.ngo,
            )
        else:
            where.add(f"{alias}.{owner} = :ngo", ngo=filters.ngo)
    if project is not None and filters.project is not None:
        where.add(f"{project} = :project", project=filters.project)
    return where


def _join(alias: str = "f", owner: str = "tenant_id") -> str:
    return (
        f"LEFT JOIN tenant_labels t ON t.id = {alias}.{owner} AND t.generation = {alias}.generation"
    )


_NGO = "COALESCE(t.code, '?')"


async def _pairs(
    session: AsyncSession, sql: str, params: dict[str, Any]
) -> dict[tuple[str, str], int]:
    rows = (await session.execute(text(sql), params)).all()
    return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


async def _ngos(session: AsyncSession, scope: Scope, filters: Filters) -> list[str]:
    """Row labels: the NGOs in scope (so an NGO with nothing still shows its zeros)."""
    where = _Where()
    where.add(f"t.generation = {_GEN}")
    where.add("t.kind = 'ngo'")
    if scope.tenant_id is not None:
        where.add("t.id = :scope", scope=scope.tenant_id)
    if filters.ngo is not None:
        where.add("t.id = :ngo", ngo=filters.ngo)
    if filters.country is not None:
        where.add("t.country = :country", country=filters.country)
    rows = await session.execute(
        text(f"SELECT t.code FROM tenant_labels t WHERE {where.sql} ORDER BY t.code"),
        where.params,
    )
    return [str(code) for code in rows.scalars()]


def _rows(ngos: list[str], counts: dict[tuple[str, str], int]) -> list[str]:
    return ngos + sorted({r for r, _ in counts} - set(ngos))


# ----------------------------------------------------------------------------- summary


async def summary(session: AsyncSession, scope: Scope, filters: Filters) -> list[ReportTable]:
    """Cases opened and closed; people by sex, age band, citizenship and category."""
    ngos = await _ngos(session, scope, filters)
    opened = _where(scope, filters, day="f.opened_on")
    opened.add("f.opened_on IS NOT NULL")
    closed = _where(scope, filters, day="f.closed_on")
    closed.add("f.closed_on IS NOT NULL")
    base = f"FROM case_facts f {_join()}"
    tables: list[ReportTable] = []
    # One pass over the opened cases gives the headline and every breakdown (one scan, not
    # five: make bench over 1,000,000 cases); one pass over the closed ones, likewise.
    dimensions = ("sex", "age_band", "citizenship", "trm_stage")
    by: dict[str, dict[tuple[str, str], int]] = {d: defaultdict(int) for d in dimensions}
    headline: dict[tuple[str, str], int] = defaultdict(int)
    rows = await session.execute(
        text(
            f"SELECT {_NGO}, "
            + ", ".join(f"COALESCE(f.{d}, 'unknown')" for d in dimensions)
            + f", count(*) {base} WHERE {opened.sql} GROUP BY 1, 2, 3, 4, 5"
        ),
        opened.params,
    )
    for ngo, *values, n in rows:
        headline[(str(ngo), "opened")] += int(n)
        for dimension, value in zip(dimensions, values, strict=True):
            by[dimension][(str(ngo), str(value))] += int(n)
    reasons = await _pairs(
        session,
        f"SELECT {_NGO}, COALESCE(f.closure_reason, 'unknown'), count(*) {base} "
        f"WHERE {closed.sql} GROUP BY 1, 2",
        closed.params,
    )
    for (ngo, _), n in reasons.items():
        headline[(ngo, "closed")] += n
    headline = dict(headline)
    tables.append(
        count_table(
            "cases",
            "ngo",
            headline,
            scope,
            rows=_rows(ngos, headline),
            columns=["opened", "closed"],
            row_totals=False,
        )
    )
    for name, dimension, order in (
        ("cases_opened_by_sex", "sex", [s.value for s in Sex]),
        ("cases_opened_by_age_band", "age_band", [a.value for a in AgeBand]),
        ("cases_opened_by_citizenship", "citizenship", None),
        ("cases_opened_by_trm_stage", "trm_stage", None),
    ):
        counts = dict(by[dimension])
        tables.append(
            count_table(name, "ngo", counts, scope, rows=_rows(ngos, counts), columns=order)
        )
    # A case has several categories: columns do not add up to the row's cases.
    counts = await _pairs(
        session,
        f"SELECT {_NGO}, c, count(*) {base}, unnest(f.categories) AS c "
        f"WHERE {opened.sql} GROUP BY 1, 2",
        opened.params,
    )
    tables.append(
        count_table(
            "cases_opened_by_category",
            "ngo",
            counts,
            scope,
            rows=_rows(ngos, counts),
            row_totals=False,
        )
    )
    counts = reasons
    tables.append(
        count_table("cases_closed_by_reason", "ngo", counts, scope, rows=_rows(ngos, counts))
    )
    # Distinct people: one person may have cases at two NGOs, so no totals.
    counts = await _pairs(
        session,
        f"SELECT {_NGO}, COALESCE(f.sex, 'unknown'), count(DISTINCT f.person_id) {base} "
        f"WHERE {opened.sql} GROUP BY 1, 2",
        opened.params,
    )
    tables.append(
        count_table(
            "persons_by_sex",
            "ngo",
            counts,
            scope,
            rows=_rows(ngos, counts),
            columns=[s.value for s in Sex],
            row_totals=False,
            column_totals=False,
        )
    )
    return tables


# ----------------------------------------------------------------------------- assistance


async def assistance(session: AsyncSession, scope: Scope, filters: Filters) -> list[ReportTable]:
    """Records by type and by mode; distinct persons per type and in all."""
    ngos = await _ngos(session, scope, filters)
    where = _where(scope, filters, day="f.provided_on", project="f.project_code")
    base = f"FROM assistance_facts f {_join()} WHERE {where.sql}"
    types = [t.value for t in AssistanceType]
    tables = []
    for name, column, order, measure in (
        ("assistance_records_by_type", "f.type", types, "count(*)"),
        ("assistance_records_by_mode", "f.mode", [m.value for m in AssistanceMode], "count(*)"),
        ("persons_assisted_by_type", "f.type", types, "count(DISTINCT f.person_id)"),
        ("persons_assisted", "'persons'", ["persons"], "count(DISTINCT f.person_id)"),
    ):
        counts = await _pairs(
            session, f"SELECT {_NGO}, {column}, {measure} {base} GROUP BY 1, 2", where.params
        )
        records = measure == "count(*)"
        tables.append(
            count_table(
                name,
                "ngo",
                counts,
                scope,
                rows=_rows(ngos, counts),
                columns=order,
                row_totals=records,
                column_totals=records,
            )
        )
    return tables


# ----------------------------------------------------------------------------- referrals

_FUNNEL = ("sent", "accepted", "declined", "completed", "overdue_now")


def _funnel_sql(now_param: str = ":now") -> str:
    return (
        "count(*) FILTER (WHERE f.sent_at IS NOT NULL), "
        "count(*) FILTER (WHERE f.accepted_at IS NOT NULL), "
        "count(*) FILTER (WHERE f.declined_at IS NOT NULL), "
        "count(*) FILTER (WHERE f.completed_at IS NOT NULL), "
        "count(*) FILTER (WHERE f.sent_at IS NOT NULL AND f.accepted_at IS NULL "
        "AND f.declined_at IS NULL AND f.cancelled_at IS NULL "
        f"AND f.due_at < {now_param})"
    )


async def referrals(
    session: AsyncSession, scope: Scope, filters: Filters, now: datetime
) -> list[ReportTable]:
    """The funnel by sender and by sender → receiver pair; answer and completion times."""
    where = _where(
        scope, filters, owner="sender_tenant", day="(f.sent_at AT TIME ZONE 'UTC')::date", pair=True
    )
    where.add("f.sent_at IS NOT NULL")
    params = where.params | {"now": now}
    recv = "LEFT JOIN tenant_labels r ON r.id = f.receiver_tenant AND r.generation = f.generation"
    base = f"FROM referral_facts f {_join(owner='sender_tenant')} {recv} WHERE {where.sql}"
    # One pass by sender → receiver pair; the senders' rows are the sums of their pairs.
    rows = (
        await session.execute(
            text(f"SELECT {_NGO}, COALESCE(r.code, '?'), {_funnel_sql()} {base} GROUP BY 1, 2"),
            params,
        )
    ).all()
    by_pair: dict[tuple[str, str], int] = {}
    by_sender: dict[tuple[str, str], int] = defaultdict(int)
    for sender, receiver, *values in rows:
        for column, value in zip(_FUNNEL, values, strict=True):
            by_pair[(f"{sender} → {receiver}", column)] = int(value)
            by_sender[(str(sender), column)] += int(value)
    tables = [
        count_table(
            name,
            header,
            counts,
            scope,
            columns=_FUNNEL,
            row_totals=False,
        )
        for name, header, counts in (
            ("referral_funnel_by_sender", "sender", dict(by_sender)),
            ("referral_funnel_by_pair", "pair", by_pair),
        )
    ]
    hours = "extract(epoch FROM ({end} - {start})) / 3600.0"
    answer = hours.format(end="COALESCE(f.accepted_at, f.declined_at)", start="f.sent_at")
    completion = hours.format(end="f.completed_at", start="f.accepted_at")
    rows = (
        await session.execute(
            text(
                f"SELECT {_NGO}, "
                f"count(*) FILTER (WHERE COALESCE(f.accepted_at, f.declined_at) IS NOT NULL), "
                f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {answer}), "
                f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {answer}), "
                f"count(*) FILTER (WHERE f.completed_at IS NOT NULL AND f.accepted_at IS NOT NULL), "
                f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {completion}), "
                f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {completion}) "
                f"{base} GROUP BY 1 ORDER BY 1"
            ),
            params,
        )
    ).all()
    cells: list[list[Any]] = []
    for row in rows:
        answered, completed = int(row[1]), int(row[4])
        cells.append(
            [
                *_stats(answered, row[2], row[3], scope),
                *_stats(completed, row[5], row[6], scope),
            ]
        )
    tables.append(
        ReportTable(
            name="referral_times_hours",
            row_header="sender",
            rows=[str(row[0]) for row in rows],
            columns=[
                "answered",
                "answer_median",
                "answer_p90",
                "completed",
                "completion_median",
                "completion_p90",
            ],
            cells=cells,
            suppressed=scope.suppressed,
        )
    )
    return tables


def _stats(n: int, median: float | None, p90: float | None, scope: Scope) -> list[Any]:
    """A count and two quantiles; across NGOs, quantiles of fewer than ``threshold`` events
    are withheld (a median of two referrals is nearly a referral)."""
    if scope.suppressed and n < scope.threshold:
        return [mark(scope.threshold) if n else 0, None, None]
    return [n, _round(median), _round(p90)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


# ----------------------------------------------------------------------------- returns


async def returns(
    session: AsyncSession, scope: Scope, filters: Filters, now: datetime
) -> list[ReportTable]:
    """Returns planned, arrived and overdue, by route and by border crossing."""
    where = _where(scope, filters, owner="sender_tenant", day="f.planned_date", pair=True)
    # Overdue: reported overdue, or 48 hours past the planned date, and no arrival.
    overdue = "f.arrived_on IS NULL AND (f.overdue OR f.planned_date + 2 < CAST(:today AS date))"
    base = f"FROM return_facts f {_join(owner='sender_tenant')} WHERE {where.sql}"
    params = where.params | {"today": now.date()}
    tables = []
    for name, key in (
        ("returns_by_route", "f.origin_country || ' → ' || f.destination_country"),
        ("returns_by_border_crossing", "COALESCE(f.border_crossing, 'unknown')"),
    ):
        rows = (
            await session.execute(
                text(
                    f"SELECT {key}, count(*), count(*) FILTER (WHERE f.arrived_on IS NOT NULL), "
                    f"count(*) FILTER (WHERE {overdue}) {base} GROUP BY 1"
                ),
                params,
            )
        ).all()
        counts = {
            (str(row[0]), col): int(row[i + 1])
            for row in rows
            for i, col in enumerate(("planned", "arrived", "overdue"))
        }
        tables.append(
            count_table(
                name,
                name.removeprefix("returns_by_"),
                counts,
                scope,
                columns=["planned", "arrived", "overdue"],
                row_totals=False,
            )
        )
    return tables


# ----------------------------------------------------------------------------- indicators


async def indicators(
    session: AsyncSession,
    scope: Scope,
    filters: Filters,
    definitions: Sequence[Indicator] | None = None,
) -> list[ReportTable]:
    """Each donor indicator per project (``none`` when the record names no project)."""
    definitions = definitions or load_indicators()
    counts: dict[tuple[str, str], int] = {}
    for indicator in definitions:
        per_project: dict[str, int] = defaultdict(int)
        if indicator.count == "persons":
            selects, params = _indicator_selects(indicator, scope, filters, "f.person_id")
            sql = (
                "SELECT project, count(DISTINCT who) FROM ("
                + " UNION ALL ".join(selects)
                + ") AS x GROUP BY 1"
            )
        else:
            selects, params = _indicator_selects(indicator, scope, filters, "NULL::uuid")
            sql = (
                "SELECT project, count(*) FROM ("
                + " UNION ALL ".join(selects)
                + ") AS x GROUP BY 1"
            )
        for project, value in (await session.execute(text(sql), params)).all():
            per_project[str(project)] += int(value)
        counts |= {(indicator.key, project): value for project, value in per_project.items()}
    # Distinct persons do not add up across indicators or projects: no totals.
    return [
        count_table(
            "donor_indicators",
            "indicator",
            counts,
            scope,
            rows=[i.key for i in definitions],
            row_totals=False,
            column_totals=False,
        )
    ]


def _indicator_selects(
    indicator: Indicator, scope: Scope, filters: Filters, who: str
) -> tuple[list[str], dict[str, Any]]:
    selects: list[str] = []
    params: dict[str, Any] = {}
    for number, source in enumerate(indicator.source):
        codes: tuple[str, ...]
        if source.events == "assistance.recorded":
            table, day, codes = "assistance_facts", "f.provided_on", ("type", "mode", "outcome")
        else:
            if who != "NULL::uuid":
                continue  # an anonymous contact is nobody we can count as a person
            table, day, codes = "contact_facts", "f.received_on", ("mode", "topic")
        where = _where(scope, filters, day=day, project="f.project_code")
        for code in codes:
            wanted = getattr(source, code)
            if wanted is not None:
                where.add(f"f.{code} = ANY(:{code})", **{code: wanted})
        # Parameters of each source get their own names.
        sql = (
            f"SELECT COALESCE(f.project_code, 'none') AS project, {who} AS who "
            f"FROM {table} f {_join()} WHERE {where.sql}"
        )
        for name, value in where.params.items():
            sql = sql.replace(f":{name}", f":s{number}_{name}")
            params[f"s{number}_{name}"] = value
        selects.append(sql)
    if not selects:
        selects.append("SELECT 'none' AS project, NULL::uuid AS who WHERE false")
    return selects, params


# ----------------------------------------------------------------------------- time series

_SERIES: dict[str, tuple[str, str, str, str | None]] = {
    # measure: (table, day expression, owner column, project column)
    "cases_opened": ("case_facts", "f.opened_on", "tenant_id", None),
    "cases_closed": ("case_facts", "f.closed_on", "tenant_id", None),
    "assistance_records": ("assistance_facts", "f.provided_on", "tenant_id", "f.project_code"),
    "contacts": ("contact_facts", "f.received_on", "tenant_id", "f.project_code"),
    "referrals_sent": (
        "referral_facts",
        "(f.sent_at AT TIME ZONE 'UTC')::date",
        "sender_tenant",
        None,
    ),
    "returns_arrived": ("return_facts", "f.arrived_on", "sender_tenant", None),
}


async def timeseries(
    session: AsyncSession, scope: Scope, filters: Filters, measure: str, interval: Interval
) -> list[ReportTable]:
    """One measure per week or month (rows) and NGO (columns)."""
    table, day, owner, project = _SERIES[measure]
    pair = owner == "sender_tenant"
    where = _where(scope, filters, owner=owner, day=day, project=project, pair=pair)
    where.add(f"{day} IS NOT NULL")
    unit = "week" if interval == "week" else "month"
    counts = await _pairs(
        session,
        f"SELECT to_char(date_trunc('{unit}', {day}), 'YYYY-MM-DD'), {_NGO}, count(*) "
        f"FROM {table} f {_join(owner=owner)} WHERE {where.sql} GROUP BY 1, 2",
        where.params,
    )
    ngos = await _ngos(session, scope, filters)
    return [
        count_table(
            f"{measure}_by_{interval}",
            interval,
            counts,
            scope,
            columns=ngos + sorted({c for _, c in counts} - set(ngos)),
        )
    ]
