"""The assistance report's people equal the distinct people of the records: grouped by NGO id
(the index's order), and by label when two NGOs share one (two former partners of one
country, both shown as ``EX-<country>``)."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from reporting.projections.projector import writing_all_tenants
from reporting.reports import queries
from reporting.reports.scope import Filters, Scope
from tests.reporting.conftest import Reporting
from tests.reporting.direct import ACTIVE, cells, remove, write_labels
from tirek.db import UnitOfWork

#: A year no other test's assistance was given in: the report is filtered to it.
YEAR = 2018
TYPES = ("legal_aid", "shelter", "voluntary_return")


async def _report(reporting: Reporting, filters: Filters) -> dict[str, dict[tuple[str, str], Any]]:
    async with UnitOfWork(reporting.app.state.sessions, None) as session:
        await writing_all_tenants(session)
        tables = await queries.assistance(session, Scope(None, threshold=1), filters)
    return {table.name: cells(table) for table in tables}


async def test_people_assisted_per_ngo_and_type_by_id_and_by_shared_label(
    reporting: Reporting,
) -> None:
    rng = random.Random(5)
    tenants = {uuid.uuid4(): "ZRA", uuid.uuid4(): "EX-ZR", uuid.uuid4(): "EX-ZR"}
    records: list[dict[str, Any]] = []
    for tenant in tenants:
        # Few people, many records: most people have several, of one type and of several.
        people = [uuid.uuid4() for _ in range(12)]
        for _ in range(60):
            records.append(
                {
                    "id": uuid.uuid4(),
                    "tenant": tenant,
                    "person": rng.choice(people),
                    "type": rng.choice(TYPES),
                    "day": date(YEAR, 1, 1) + timedelta(days=rng.randrange(365)),
                }
            )
    async with reporting.admin_engine.begin() as conn:
        await conn.execute(text("SELECT set_config('app.all_tenants', 'on', true)"))
        await write_labels(conn, tenants, "ZR")
        await conn.execute(
            text(
                "INSERT INTO assistance_facts (generation, assistance_id, tenant_id, case_id, "
                "person_id, type, mode, provided_on, outcome, project_code) VALUES "
                f"({ACTIVE}, :id, :tenant, :case, :person, :type, 'office', :day, "
                "'provided', NULL)"
            ),
            [record | {"case": uuid.uuid4()} for record in records],
        )

    def truth(chosen: set[uuid.UUID]) -> tuple[dict[Any, int], dict[Any, int]]:
        by_type: dict[tuple[str, str], set[uuid.UUID]] = defaultdict(set)
        in_all: dict[tuple[str, str], set[uuid.UUID]] = defaultdict(set)
        for record in records:
            if record["tenant"] in chosen:
                label = tenants[record["tenant"]]
                by_type[(label, record["type"])].add(record["person"])
                in_all[(label, "persons")].add(record["person"])
        return (
            {key: len(people) for key, people in by_type.items()},
            {key: len(people) for key, people in in_all.items()},
        )

    in_year = {"date_from": date(YEAR, 1, 1), "date_to": date(YEAR, 12, 31)}
    try:
        # Every NGO: the two EX-ZR NGOs share a label, and are counted together under it.
        report = await _report(reporting, Filters(**in_year))
        by_type, in_all = truth(set(tenants))
        assert report["persons_assisted_by_type"] == by_type
        assert report["persons_assisted"] == in_all
        # One NGO of each label, by its id.
        for tenant in list(tenants)[:2]:
            report = await _report(reporting, Filters(**in_year, ngo=tenant))
            by_type, in_all = truth({tenant})
            assert report["persons_assisted_by_type"] == by_type
            assert report["persons_assisted"] == in_all
    finally:
        await remove(reporting.admin_engine, tenants)
