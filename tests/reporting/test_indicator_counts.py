"""Donor indicators equal what their definitions count in the records: distinct people per
project for ``count = "persons"`` (one type, several types, several sources), records added
up over sources for ``count = "records"`` (from the rollups, or from the records when a
source combines codes); a record without a project counts under ``none``."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from reporting.projections.projector import writing_all_tenants
from reporting.reports import queries
from reporting.reports.indicators import Indicator, Source
from reporting.reports.scope import Filters, Scope
from tests.reporting.conftest import Reporting
from tests.reporting.direct import ACTIVE, cells, remove, write_labels
from tirek.db import UnitOfWork

#: A year no other test's records are in: the report is filtered to it.
YEAR = 2017
PROJECTS = ("P-A", "P-B", None)
TYPES = ("legal_aid", "shelter", "voluntary_return", "medical_aid")
MODES = ("office", "hotline", "online")
OUTCOMES = ("provided", "partially_provided")


def _indicator(key: str, count: str, *sources: dict[str, Any]) -> Indicator:
    return Indicator(
        key=key,
        count=count,  # type: ignore[arg-type]
        labels={"en": key},
        source=[Source(**source) for source in sources],
    )


DEFINITIONS = (
    _indicator("one_type", "persons", {"events": "assistance.recorded", "type": ["legal_aid"]}),
    _indicator(
        "two_types", "persons", {"events": "assistance.recorded", "type": ["legal_aid", "shelter"]}
    ),
    _indicator(
        "two_sources",
        "persons",
        {"events": "assistance.recorded", "type": ["voluntary_return"]},
        {"events": "assistance.recorded", "type": ["shelter"], "mode": ["office"]},
        {"events": "contact.recorded", "mode": ["hotline"]},  # nobody: contacts are anonymous
    ),
    _indicator(
        "rolled_records",
        "records",
        {"events": "assistance.recorded", "type": ["legal_aid"]},
        {"events": "contact.recorded", "mode": ["hotline"]},
    ),
    _indicator(
        "combined_records",
        "records",
        {"events": "assistance.recorded", "type": ["shelter"], "mode": ["office"]},
        {"events": "assistance.recorded", "outcome": ["partially_provided"]},
    ),
)


def _matches(record: dict[str, Any], source: Source) -> bool:
    if record["events"] != source.events:
        return False
    return all(
        wanted is None or record.get(code) in wanted
        for code, wanted in (
            ("type", source.type),
            ("mode", source.mode),
            ("outcome", source.outcome),
            ("topic", source.topic),
        )
    )


def _truth(records: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for indicator in DEFINITIONS:
        people: dict[str, set[uuid.UUID]] = defaultdict(set)
        added: dict[str, int] = defaultdict(int)
        for source in indicator.source:
            for record in records:
                if not _matches(record, source):
                    continue
                project = record["project"] or "none"
                if indicator.count == "records":
                    added[project] += 1
                elif record["events"] == "assistance.recorded":
                    people[project].add(record["person"])
        for project, n in added.items():
            counts[(indicator.key, project)] = n
        for project, persons in people.items():
            counts[(indicator.key, project)] = len(persons)
    return counts


async def test_indicators_count_what_their_definitions_say(reporting: Reporting) -> None:
    rng = random.Random(3)
    tenant = uuid.uuid4()
    people = [uuid.uuid4() for _ in range(25)]
    day = lambda: date(YEAR, 1, 1) + timedelta(days=rng.randrange(365))  # noqa: E731
    records: list[dict[str, Any]] = [
        {
            "events": "assistance.recorded",
            "id": uuid.uuid4(),
            "person": rng.choice(people),  # most people get several records, of several types
            "type": rng.choice(TYPES),
            "mode": rng.choice(MODES),
            "outcome": rng.choice(OUTCOMES),
            "project": rng.choice(PROJECTS),
            "day": day(),
        }
        for _ in range(300)
    ] + [
        {
            "events": "contact.recorded",
            "id": uuid.uuid4(),
            "mode": rng.choice(MODES),
            "topic": "employment_abroad",
            "project": rng.choice(PROJECTS),
            "day": day(),
        }
        for _ in range(60)
    ]
    assistance = [r for r in records if r["events"] == "assistance.recorded"]
    contacts = [r for r in records if r["events"] == "contact.recorded"]
    async with reporting.admin_engine.begin() as conn:
        await conn.execute(text("SELECT set_config('app.all_tenants', 'on', true)"))
        await write_labels(conn, {tenant: "ZIN"}, "ZI")
        await conn.execute(
            text(
                "INSERT INTO assistance_facts (generation, assistance_id, tenant_id, case_id, "
                "person_id, type, mode, provided_on, outcome, project_code) VALUES "
                f"({ACTIVE}, :id, :tenant, :case, :person, :type, :mode, :day, :outcome, "
                ":project)"
            ),
            [r | {"tenant": tenant, "case": uuid.uuid4()} for r in assistance],
        )
        await conn.execute(
            text(
                "INSERT INTO contact_facts (generation, contact_id, tenant_id, received_on, mode, "
                f"topic, country, sex, project_code) VALUES ({ACTIVE}, :id, :tenant, :day, "
                ":mode, :topic, 'ZI', 'female', :project)"
            ),
            [r | {"tenant": tenant} for r in contacts],
        )
    try:
        filters = Filters(date_from=date(YEAR, 1, 1), date_to=date(YEAR, 12, 31), ngo=tenant)
        for scope in (Scope(None, threshold=1), Scope(tenant, threshold=1)):
            async with UnitOfWork(reporting.app.state.sessions, scope.tenant_id) as session:
                if scope.tenant_id is None:
                    await writing_all_tenants(session)
                (table,) = await queries.indicators(session, scope, filters, DEFINITIONS)
            assert cells(table) == _truth(records), f"scope {scope}"
    finally:
        await remove(reporting.admin_engine, [tenant])
