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
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.reports.indicators import Indicator, Source, load_indicators
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
        # The NGO's label (same generation) names the country: as the joined ``t`` would,
        # without joining every row to it.
        where.add(
            f"{alias}.{owner} IN (SELECT l.id FROM tenant_labels l "
            f"WHERE l.generation = {alias}.generation AND l.country = :country)",
            country=filters.country,
        )
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


# ----------------------------------------------------------------------------- rollups


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _period(filters: Filters, *, months: bool = True) -> _Where:
    """The rollup rows that count exactly the days from ``date_from`` to ``date_to``: whole
    months from month rows, the days of a month covered in part from day rows (only day rows
    when ``months`` is false)."""
    where = _Where()
    lo, hi = filters.date_from, filters.date_to
    first = None if lo is None else lo if lo.day == 1 else _next_month(lo)
    after = None if hi is None else (hi + timedelta(days=1)).replace(day=1)
    if not months or (first is not None and after is not None and first >= after):
        where.add("c.grain = 'day'")
        if lo is not None:
            where.add("c.day >= :p_lo", p_lo=lo)
        if hi is not None:
            where.add("c.day <= :p_hi", p_hi=hi)
        return where
    whole = ["c.grain = 'month'"]
    edges = []
    if first is not None:
        whole.append("c.day >= :p_first")
        edges.append("(c.day >= :p_lo AND c.day < :p_first)")
        where.params |= {"p_lo": lo, "p_first": first}
    if after is not None:
        whole.append("c.day < :p_after")
        edges.append("(c.day >= :p_after AND c.day <= :p_hi)")
        where.params |= {"p_after": after, "p_hi": hi}
    clause = "(" + " AND ".join(whole) + ")"
    if edges:
        clause = f"({clause} OR (c.grain = 'day' AND ({' OR '.join(edges)})))"
    where.clauses.append(clause)
    return where


async def _rollup(
    session: AsyncSession,
    scope: Scope,
    filters: Filters,
    measures: Sequence[str],
    *,
    key: str = "c.value",
    values: Sequence[str] | None = None,
    project: bool = False,
    months: bool = True,
    by_ngo: bool = True,
) -> list[tuple[str, str, str, int]]:
    """``(ngo, measure, key, count)`` summed from ``report_counts`` over the period, NGO,
    country and (with ``project``) project filters: what ``count(*)`` over the fact rows
    gives, grouped alike. Per NGO id first, its label joined to the few sums after."""
    where = _period(filters, months=months)
    where.add(f"c.generation = {_GEN}")
    where.add("c.measure = ANY(:measures)", measures=list(measures))
    if values is not None:
        where.add("c.value = ANY(:values)", values=list(values))
    if scope.tenant_id is not None:
        where.add("c.tenant_id = :scope", scope=scope.tenant_id)
    if filters.ngo is not None:
        where.add("c.tenant_id = :ngo", ngo=filters.ngo)
    if project and filters.project is not None:
        where.add("c.project = :project", project=filters.project)
    country = "" if filters.country is None else "WHERE t.country = :country"
    if filters.country is not None:
        where.params["country"] = filters.country
    ngo = _NGO if by_ngo else "''"
    rows = await session.execute(
        text(
            f"SELECT {ngo}, x.measure, x.k, sum(x.n) FROM ("
            f"SELECT c.generation, c.tenant_id, c.measure, {key} AS k, sum(c.n) AS n "
            f"FROM report_counts c WHERE {where.sql} GROUP BY 1, 2, 3, 4) x "
            "LEFT JOIN tenant_labels t ON t.id = x.tenant_id AND t.generation = x.generation "
            f"{country} GROUP BY 1, 2, 3 HAVING sum(x.n) <> 0"
        ),
        where.params,
    )
    return [(str(ngo), str(measure), str(k), int(n)) for ngo, measure, k, n in rows]


# ----------------------------------------------------------------------------- summary


async def summary(session: AsyncSession, scope: Scope, filters: Filters) -> list[ReportTable]:
    """Cases opened and closed; people by sex, age band, citizenship and category."""
    ngos = await _ngos(session, scope, filters)
    tables: list[ReportTable] = []
    # Every count is a sum of the rollups (one query); only distinct people may need the
    # cases themselves (see _persons_by_sex).
    dimensions = ("sex", "age_band", "citizenship", "trm_stage", "category")
    by: dict[str, dict[tuple[str, str], int]] = {d: {} for d in dimensions}
    reasons: dict[tuple[str, str], int] = {}
    headline: dict[tuple[str, str], int] = defaultdict(int)
    measures = [f"cases_opened.{d}" for d in dimensions] + ["cases_closed.reason"]
    for ngo, measure, value, n in await _rollup(session, scope, filters, measures):
        if measure == "cases_closed.reason":
            reasons[(ngo, value)] = n
            headline[(ngo, "closed")] += n
        else:
            dimension = measure.removeprefix("cases_opened.")
            by[dimension][(ngo, value)] = n
            if dimension == "sex":
                headline[(ngo, "opened")] += n
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
        counts = by[dimension]
        tables.append(
            count_table(name, "ngo", counts, scope, rows=_rows(ngos, counts), columns=order)
        )
    # A case has several categories: columns do not add up to the row's cases.
    counts = by["category"]
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
    counts = await _persons_by_sex(session, scope, filters)
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


async def _persons_by_sex(
    session: AsyncSession, scope: Scope, filters: Filters
) -> dict[tuple[str, str], int]:
    """Distinct people among the cases opened in the period, by NGO and sex.

    Over all time, the maintained count of each NGO's people (``persons.sex``: a person
    counts while they have an opened case of that sex there) — unless two NGOs in scope share
    a label (former partners of one country, or NGOs without a label): a person could then be
    counted under both, where the label's distinct count counts them once. A period, or a
    shared label, counts the cases themselves.
    """
    if filters.date_from is None and filters.date_to is None:
        where = _Where()
        where.add(f"c.generation = {_GEN}")
        where.add("c.measure = 'persons.sex'")
        where.add("c.grain = 'all'")
        if scope.tenant_id is not None:
            where.add("c.tenant_id = :scope", scope=scope.tenant_id)
        if filters.ngo is not None:
            where.add("c.tenant_id = :ngo", ngo=filters.ngo)
        country = "" if filters.country is None else "AND t.country = :country"
        if filters.country is not None:
            where.params["country"] = filters.country
        rows = (
            await session.execute(
                text(
                    f"SELECT {_NGO}, c.tenant_id, c.value, c.n FROM report_counts c "
                    "LEFT JOIN tenant_labels t ON t.id = c.tenant_id "
                    f"AND t.generation = c.generation WHERE {where.sql} {country} AND c.n <> 0"
                ),
                where.params,
            )
        ).all()
        owners: dict[str, set[Any]] = defaultdict(set)
        for ngo, tenant, _, _ in rows:
            owners[str(ngo)].add(tenant)
        if all(len(tenants) == 1 for tenants in owners.values()):
            return {(str(ngo), str(sex)): int(n) for ngo, _, sex, n in rows}
    opened = _where(scope, filters, day="f.opened_on")
    opened.add("f.opened_on IS NOT NULL")
    return await _pairs(
        session,
        f"SELECT {_NGO}, COALESCE(f.sex, 'unknown'), count(DISTINCT f.person_id) "
        f"FROM case_facts f {_join()} WHERE {opened.sql} GROUP BY 1, 2",
        opened.params,
    )


# ----------------------------------------------------------------------------- assistance


async def assistance(session: AsyncSession, scope: Scope, filters: Filters) -> list[ReportTable]:
    """Records by type and by mode; distinct persons per type and in all."""
    ngos = await _ngos(session, scope, filters)
    where = _where(scope, filters, day="f.provided_on", project="f.project_code")
    base = f"FROM assistance_facts f {_join()} WHERE {where.sql}"
    records: dict[str, dict[tuple[str, str], int]] = {
        "assistance.type": {},
        "assistance.mode": {},
    }
    for ngo, kind, value, n in await _rollup(session, scope, filters, list(records), project=True):
        records[kind][(ngo, value)] = n
    types = [t.value for t in AssistanceType]
    labels = await _labels(session)
    tables = []
    measure: str | None
    for name, column, order, measure in (
        ("assistance_records_by_type", "assistance.type", types, None),
        ("assistance_records_by_mode", "assistance.mode", [m.value for m in AssistanceMode], None),
        ("persons_assisted_by_type", "f.type", types, "count(DISTINCT f.person_id)"),
        ("persons_assisted", "'persons'", ["persons"], "count(DISTINCT f.person_id)"),
    ):
        if measure is None:
            counts = records[column]
        else:
            # Distinct people do not add up: counted over the records themselves.
            counts = await _persons_per_ngo(session, labels, column, measure, base, where.params)
        is_records = measure is None
        tables.append(
            count_table(
                name,
                "ngo",
                counts,
                scope,
                rows=_rows(ngos, counts),
                columns=order,
                row_totals=is_records,
                column_totals=is_records,
            )
        )
    return tables


async def _persons_per_ngo(
    session: AsyncSession,
    labels: dict[Any, str],
    column: str,
    measure: str,
    base: str,
    params: dict[str, Any],
) -> dict[tuple[str, str], int]:
    """``measure`` (distinct people) per NGO label and ``column``, over ``base``.

    Grouped by the NGO's id, the order of ``ix_assistance_facts_persons``, and labelled after:
    the records come sorted, where grouping by the joined label sorted all of them (1.1 s
    over 1,000,000 records, 0.19 s by id). When two NGOs in the result share a label (former
    partners of one country), their people are counted together, by the label.
    """
    rows = (
        await session.execute(
            text(f"SELECT f.tenant_id, {column}, {measure} {base} GROUP BY f.tenant_id, 2"),
            params,
        )
    ).all()
    owners: dict[str, set[Any]] = defaultdict(set)
    for tenant, _, _ in rows:
        owners[labels.get(tenant, "?")].add(tenant)
    if any(len(tenants) > 1 for tenants in owners.values()):
        return await _pairs(
            session, f"SELECT {_NGO}, {column}, {measure} {base} GROUP BY 1, 2", params
        )
    return {(labels.get(tenant, "?"), str(value)): int(n) for tenant, value, n in rows}


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


async def _labels(session: AsyncSession) -> dict[Any, str]:
    """Every tenant's label in the active generation (``?`` stands for a tenant without one)."""
    rows = await session.execute(
        text(f"SELECT id, code FROM tenant_labels WHERE generation = {_GEN}")
    )
    return {row.id: str(row.code) for row in rows}


async def referrals(
    session: AsyncSession, scope: Scope, filters: Filters, now: datetime
) -> list[ReportTable]:
    """The funnel by sender and by sender → receiver pair; answer and completion times.

    Grouped by the tenants' ids and labelled afterwards, not joined to the labels row by row
    (half the time over 100,000 referrals). Two tenants may share a label (former partners of
    one country, ``EX-KZ``): their counts add up under it, and their quantiles are taken over
    their referrals together, by the label.
    """
    where = _where(
        scope, filters, owner="sender_tenant", day="(f.sent_at AT TIME ZONE 'UTC')::date", pair=True
    )
    where.add("f.sent_at IS NOT NULL")
    params = where.params | {"now": now}
    labels = await _labels(session)

    def label(tenant: Any) -> str:
        return labels.get(tenant, "?")

    rows = (
        await session.execute(
            text(
                f"SELECT f.sender_tenant, f.receiver_tenant, {_funnel_sql()} "
                f"FROM referral_facts f WHERE {where.sql} GROUP BY 1, 2"
            ),
            params,
        )
    ).all()
    by_pair: dict[tuple[str, str], int] = defaultdict(int)
    by_sender: dict[tuple[str, str], int] = defaultdict(int)
    for sender, receiver, *values in rows:
        for column, value in zip(_FUNNEL, values, strict=True):
            by_pair[(f"{label(sender)} → {label(receiver)}", column)] += int(value)
            by_sender[(label(sender), column)] += int(value)
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
            ("referral_funnel_by_pair", "pair", dict(by_pair)),
        )
    ]
    senders = {row[0] for row in rows}
    shared = len({label(sender) for sender in senders}) < len(senders)
    cells: list[list[Any]] = []
    names: list[str] = []
    for name, answered, answer, completed, completion in sorted(
        await _referral_times(session, where.sql, params, by_label=shared),
        key=lambda row: row[0] if shared else label(row[0]),
    ):
        names.append(str(name) if shared else label(name))
        cells.append([*_stats(answered, *answer, scope), *_stats(completed, *completion, scope)])
    tables.append(
        ReportTable(
            name="referral_times_hours",
            row_header="sender",
            rows=names,
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


async def _referral_times(
    session: AsyncSession, where: str, params: dict[str, Any], *, by_label: bool
) -> list[
    tuple[Any, int, tuple[float | None, float | None], int, tuple[float | None, float | None]]
]:
    """Per sender (its id, or its label when ``by_label``): answered referrals and the median
    and 90th percentile of their answer time in hours; completed ones, likewise."""
    hours = "extract(epoch FROM ({end} - {start})) / 3600.0"
    answer = hours.format(end="COALESCE(f.accepted_at, f.declined_at)", start="f.sent_at")
    completion = hours.format(end="f.completed_at", start="f.accepted_at")
    # One sort per quantile pair, not one per quantile.
    quantiles = "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {})"
    key, join = (_NGO, _join(owner="sender_tenant")) if by_label else ("f.sender_tenant", "")
    rows = (
        await session.execute(
            text(
                f"SELECT {key}, "
                "count(*) FILTER (WHERE COALESCE(f.accepted_at, f.declined_at) IS NOT NULL), "
                f"{quantiles.format(answer)}, "
                "count(*) FILTER (WHERE f.completed_at IS NOT NULL AND f.accepted_at IS NOT NULL), "
                f"{quantiles.format(completion)} "
                f"FROM referral_facts f {join} WHERE {where} GROUP BY 1"
            ),
            params,
        )
    ).all()
    return [(row[0], int(row[1]), _pair(row[2]), int(row[3]), _pair(row[4])) for row in rows]


def _pair(values: list[float] | None) -> tuple[float | None, float | None]:
    return (None, None) if values is None else (values[0], values[1])


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
            # Grouped by the project column itself, not by COALESCE(project, 'none'): one
            # type's records then come in project and person order from the type index, and
            # its distinct people are counted without a sort.
            sql = (
                "SELECT COALESCE(project, 'none'), count(DISTINCT who) FROM ("
                + " UNION ALL ".join(selects)
                + ") AS x GROUP BY project"
            )
        else:
            # Records add up: each source from the rollups when it filters on one code at
            # most, else (a combination of codes) from its records.
            rolled = [s for s in indicator.source if len(_source_filters(s)) <= 1]
            for source in rolled:
                measure, values = _source_measure(source)
                for _, _, project, value in await _rollup(
                    session,
                    scope,
                    filters,
                    [measure],
                    key="COALESCE(c.project, 'none')",
                    values=values,
                    project=True,
                    by_ngo=False,
                ):
                    per_project[project] += value
            rest = indicator.model_copy(
                update={"source": [s for s in indicator.source if s not in rolled]}
            )
            if not rest.source:
                counts |= {(indicator.key, p): v for p, v in per_project.items()}
                continue
            selects, params = _indicator_selects(rest, scope, filters, "NULL::uuid")
            sql = (
                "SELECT COALESCE(project, 'none'), count(*) FROM ("
                + " UNION ALL ".join(selects)
                + ") AS x GROUP BY project"
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


def _source_filters(source: Source) -> dict[str, list[str]]:
    codes = (
        ("type", "mode", "outcome") if source.events == "assistance.recorded" else ("mode", "topic")
    )
    return {code: getattr(source, code) for code in codes if getattr(source, code) is not None}


def _source_measure(source: Source) -> tuple[str, list[str] | None]:
    """The rollup measure (and values) counting a source that filters on one code at most."""
    prefix = "assistance" if source.events == "assistance.recorded" else "contacts"
    for code, wanted in _source_filters(source).items():
        return f"{prefix}.{code}", wanted
    # No filter: every record, counted once (by any one of its codes).
    return f"{prefix}.mode", None


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
            if wanted is not None and len(wanted) == 1:
                # Equality, not ANY: the planner then knows the records come in project
                # and person order from the type index (ANY of one code still sorts).
                where.add(f"f.{code} = :{code}", **{code: wanted[0]})
            elif wanted is not None:
                where.add(f"f.{code} = ANY(:{code})", **{code: wanted})
        # Parameters of each source get their own names.
        sql = (
            f"SELECT f.project_code AS project, {who} AS who "
            f"FROM {table} f {_join()} WHERE {where.sql}"
        )
        for name, value in where.params.items():
            sql = sql.replace(f":{name}", f":s{number}_{name}")
            params[f"s{number}_{name}"] = value
        selects.append(sql)
    if not selects:
        selects.append("SELECT NULL::varchar AS project, NULL::uuid AS who WHERE false")
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


#: Series summed from the rollups: every case, record or contact counts once in these.
_ROLLED_SERIES = {
    "cases_opened": "cases_opened.sex",
    "cases_closed": "cases_closed.reason",
    "assistance_records": "assistance.mode",
    "contacts": "contacts.mode",
}


async def timeseries(
    session: AsyncSession, scope: Scope, filters: Filters, measure: str, interval: Interval
) -> list[ReportTable]:
    """One measure per week or month (rows) and NGO (columns)."""
    table, day, owner, project = _SERIES[measure]
    unit = "week" if interval == "week" else "month"
    bucket = "to_char(date_trunc('{unit}', {day}), 'YYYY-MM-DD')"
    if measure in _ROLLED_SERIES:
        # Weeks straddle months: by week from day rows only.
        rolled = await _rollup(
            session,
            scope,
            filters,
            [_ROLLED_SERIES[measure]],
            key=bucket.format(unit=unit, day="c.day"),
            project=project is not None,
            months=unit == "month",
        )
        counts: dict[tuple[str, str], int] = {(k, ngo): n for ngo, _, k, n in rolled}
    else:
        pair = owner == "sender_tenant"
        where = _where(scope, filters, owner=owner, day=day, project=project, pair=pair)
        where.add(f"{day} IS NOT NULL")
        counts = await _pairs(
            session,
            f"SELECT {bucket.format(unit=unit, day=day)}, {_NGO}, count(*) "
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
