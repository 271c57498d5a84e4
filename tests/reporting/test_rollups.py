"""The rollups (``report_counts``, ``case_persons``) always equal what the fact rows give.

They are kept by triggers on the facts; these tests recount them in plain Python from the
fact rows and compare every row: after a random history with updates that move cases between
sexes, stages and categories, closures, redeliveries and events out of order; after rows are
deleted (an erasure); with writers racing each other; after a rebuild by replay. And the
rows are as private as the facts: another NGO's transaction sees none of them.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.reporting.conftest import Auth, Reporting, publish
from tirek.events import Envelope
from tirek.events.admin import TenantOffboarded, TenantOnboarded
from tirek.events.intake import (
    AgeBand,
    AssistanceMode,
    AssistanceOutcome,
    AssistanceRecorded,
    AssistanceType,
    CaseCategory,
    CaseClosed,
    CaseRegistered,
    CaseStatus,
    CaseUpdated,
    ClosureReason,
    ContactRecorded,
    ContactTopic,
    RiskLevel,
    Sex,
    TrmStage,
)

T0 = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)
ACTIVE = "(SELECT active FROM projection_generations WHERE id = 1)"
_CASE_DIMENSIONS = ("sex", "age_band", "citizenship", "trm_stage")

Key = tuple[Any, ...]


async def _recount(conn: AsyncConnection, generation: int) -> tuple[Counter[Key], Counter[Key]]:
    """What the rollups of ``generation`` should hold, counted from its fact rows."""
    counts: Counter[Key] = Counter()
    persons: Counter[Key] = Counter()

    def add(measure: str, tenant: Any, day: date, project: Any, value: Any) -> None:
        counts[(measure, "day", tenant, day, project, value)] += 1
        counts[(measure, "month", tenant, day.replace(day=1), project, value)] += 1

    params = {"g": generation}
    for row in (
        await conn.execute(text("SELECT * FROM case_facts WHERE generation = :g"), params)
    ).mappings():
        if row["opened_on"] is not None:
            for dimension in _CASE_DIMENSIONS:
                value = row[dimension] or "unknown"
                add(f"cases_opened.{dimension}", row["tenant_id"], row["opened_on"], None, value)
            for category in row["categories"] or []:
                add("cases_opened.category", row["tenant_id"], row["opened_on"], None, category)
            if row["person_id"] is not None:
                persons[(row["tenant_id"], row["sex"] or "unknown", row["person_id"])] += 1
        if row["closed_on"] is not None:
            reason = row["closure_reason"] or "unknown"
            add("cases_closed.reason", row["tenant_id"], row["closed_on"], None, reason)
    people: dict[Key, set[Any]] = defaultdict(set)
    for tenant, sex, person in persons:
        people[(tenant, sex)].add(person)
    for (tenant, sex), who in people.items():
        counts[("persons.sex", "all", tenant, None, None, sex)] = len(who)
    for row in (
        await conn.execute(text("SELECT * FROM assistance_facts WHERE generation = :g"), params)
    ).mappings():
        for code in ("type", "mode", "outcome"):
            add(
                f"assistance.{code}",
                row["tenant_id"],
                row["provided_on"],
                row["project_code"],
                row[code],
            )
    for row in (
        await conn.execute(text("SELECT * FROM contact_facts WHERE generation = :g"), params)
    ).mappings():
        for code in ("mode", "topic"):
            add(
                f"contacts.{code}",
                row["tenant_id"],
                row["received_on"],
                row["project_code"],
                row[code],
            )
    return counts, persons


async def _stored(conn: AsyncConnection, generation: int) -> tuple[Counter[Key], Counter[Key]]:
    params = {"g": generation}
    counts: Counter[Key] = Counter()
    for row in await conn.execute(
        text(
            "SELECT measure, grain, tenant_id, day, project, value, n FROM report_counts "
            "WHERE generation = :g AND n <> 0"
        ),
        params,
    ):
        counts[tuple(row[:6])] = int(row[6])
    persons: Counter[Key] = Counter()
    for row in await conn.execute(
        text(
            "SELECT tenant_id, sex, person_id, cases FROM case_persons "
            "WHERE generation = :g AND cases <> 0"
        ),
        params,
    ):
        persons[tuple(row[:3])] = int(row[3])
    return counts, persons


async def _assert_rollups_equal_facts(reporting: Reporting, generation: int | None = None) -> None:
    # One snapshot: the consumers may be committing meanwhile.
    async with reporting.admin_engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        if generation is None:
            generation = int((await conn.execute(text(f"SELECT {ACTIVE}"))).scalar_one())
        expected, expected_persons = await _recount(conn, generation)
        stored, persons = await _stored(conn, generation)
    missing = {k: v for k, v in expected.items() if stored.get(k) != v}
    extra = {k: v for k, v in stored.items() if k not in expected}
    assert not missing and not extra, (
        f"generation {generation}: rollups differ from the facts; "
        f"expected but not stored: {list(missing.items())[:5]}, "
        f"stored but not in the facts: {list(extra.items())[:5]}"
    )
    assert persons == expected_persons, "case_persons differs from the opened cases"


async def _applied(reporting: Reporting, envelopes: list[Envelope]) -> None:
    ids = list({e.id for e in envelopes})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = await reporting.scalar(
            "SELECT count(DISTINCT event_id) FROM inbox WHERE event_id = ANY(:ids)", ids=ids
        )
        if done == len(ids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("reporting never applied every event of the random history")


def _history(rng: random.Random, tenants: list[uuid.UUID], cases: int) -> list[Envelope]:
    """Registrations, updates moving every dimension, closures, assistance and contacts;
    one person with cases at two NGOs; copies (redeliveries); shuffled (out of order)."""
    events: list[Envelope] = []
    shared_person = uuid.UUID(int=rng.getrandbits(128))
    for i in range(cases):
        tenant = tenants[i % len(tenants)]
        case_id = uuid.UUID(int=rng.getrandbits(128))
        person_id = shared_person if i < len(tenants) else uuid.UUID(int=rng.getrandbits(128))
        opened = T0 + timedelta(days=rng.randrange(0, 70))

        def state() -> dict[str, Any]:
            return {
                "sex": rng.choice(list(Sex)),
                "age_band": rng.choice(list(AgeBand)),
                "citizenship": rng.choice(["KG", "TJ", None]),
                "categories": rng.sample(list(CaseCategory), rng.randint(1, 3)),
                "trm_stage": rng.choice(list(TrmStage)),
                "status": CaseStatus.ACTIVE,
                "risk_level": rng.choice(list(RiskLevel)),
            }

        number = f"TM-RL-{i}"
        events.append(
            Envelope.wrap(
                CaseRegistered(
                    case_id=case_id,
                    case_number=number,
                    person_id=person_id,
                    opened_on=opened.date(),
                    country="TM",
                    **state(),
                ),
                tenant=tenant,
                subject=case_id,
                time=opened,
            )
        )
        for _ in range(rng.randrange(0, 4)):
            # Some updates are older than the registration: they must lose to it.
            when = opened + timedelta(hours=rng.randrange(-48, 24 * 40))
            events.append(
                Envelope.wrap(
                    CaseUpdated(case_id=case_id, case_number=number, changed=["sex"], **state()),
                    tenant=tenant,
                    subject=case_id,
                    time=when,
                )
            )
        if rng.random() < 0.4:
            closed = opened + timedelta(days=rng.randrange(0, 60))
            events.append(
                Envelope.wrap(
                    CaseClosed(
                        case_id=case_id,
                        case_number=number,
                        closed_on=closed.date(),
                        reason=rng.choice(list(ClosureReason)),
                    ),
                    tenant=tenant,
                    subject=case_id,
                    time=closed,
                )
            )
        for _ in range(rng.randrange(0, 3)):
            assistance_id = uuid.UUID(int=rng.getrandbits(128))
            given = opened + timedelta(days=rng.randrange(0, 40))
            events.append(
                Envelope.wrap(
                    AssistanceRecorded(
                        assistance_id=assistance_id,
                        case_id=case_id,
                        person_id=person_id,
                        type=rng.choice(list(AssistanceType)),
                        mode=rng.choice(list(AssistanceMode)),
                        provided_on=given.date(),
                        outcome=rng.choice(list(AssistanceOutcome)),
                        project_code=rng.choice(["IOM-CA-SAFE", "none", None]),
                    ),
                    tenant=tenant,
                    subject=assistance_id,
                    time=given,
                )
            )
        if rng.random() < 0.5:
            contact_id = uuid.UUID(int=rng.getrandbits(128))
            events.append(
                Envelope.wrap(
                    ContactRecorded(
                        contact_id=contact_id,
                        received_on=opened.date(),
                        mode=rng.choice(list(AssistanceMode)),
                        topic=rng.choice(list(ContactTopic)),
                        country="TM",
                        sex=rng.choice(list(Sex)),
                        project_code=rng.choice(["IOM-CA-SAFE", None]),
                    ),
                    tenant=tenant,
                    subject=contact_id,
                    time=opened,
                )
            )
    events += rng.sample(events, len(events) // 5)  # redeliveries
    rng.shuffle(events)
    return events


def _cells(report: dict[str, Any], name: str) -> dict[tuple[str, str], Any]:
    table = next(t for t in report["tables"] if t["name"] == name)
    return {
        (row, column): table["cells"][r][c]
        for r, row in enumerate(table["rows"])
        for c, column in enumerate(table["columns"])
    }


async def test_rollups_equal_the_facts_through_updates_erasure_offboarding_and_rebuild(
    reporting: Reporting, nats_url: str, auth: Auth
) -> None:
    rng = random.Random(20261201)
    tenants = [uuid.uuid4(), uuid.uuid4()]
    onboarding = [
        Envelope.wrap(
            TenantOnboarded(
                tenant_id=tenant,
                code=code,
                country="TM",
                region="Dashoguz",
                names={"en": code},
            ),
            tenant=tenant,
            subject=tenant,
            time=T0,
        )
        for tenant, code in zip(tenants, ("RLA", "RLB"), strict=True)
    ]
    history = _history(rng, tenants, 60)
    await publish(nats_url, reporting.naming, onboarding + history)
    await _applied(reporting, onboarding + history)
    await _assert_rollups_equal_facts(reporting)

    # Newer updates move cases to other sexes, stages and categories.
    moved: list[Envelope] = []
    async with reporting.admin_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    f"SELECT case_id, tenant_id FROM case_facts WHERE generation = {ACTIVE} "
                    "AND tenant_id = ANY(:t) AND opened_on IS NOT NULL"
                ),
                {"t": tenants},
            )
        ).all()
    for case_id, tenant in rows[:25]:
        moved.append(
            Envelope.wrap(
                CaseUpdated(
                    case_id=case_id,
                    case_number="TM-RL",
                    changed=["sex", "trm_stage", "categories"],
                    sex=rng.choice(list(Sex)),
                    age_band=rng.choice(list(AgeBand)),
                    categories=rng.sample(list(CaseCategory), 2),
                    trm_stage=rng.choice(list(TrmStage)),
                    status=CaseStatus.ACTIVE,
                    risk_level=RiskLevel.HIGH,
                ),
                tenant=tenant,
                subject=case_id,
                time=T0 + timedelta(days=400),
            )
        )
    await publish(nats_url, reporting.naming, moved + moved[:5])
    await _applied(reporting, moved)
    await _assert_rollups_equal_facts(reporting)

    # Both NGOs leave: one label (EX-TM) now stands for two NGOs that share a person, who
    # counts once under it, as the distinct count over their cases gives.
    offboarded = [
        Envelope.wrap(
            TenantOffboarded(tenant_id=tenant),
            tenant=tenant,
            subject=tenant,
            time=T0 + timedelta(days=500),
        )
        for tenant in tenants
    ]
    await publish(nats_url, reporting.naming, offboarded)
    await _applied(reporting, offboarded)
    await _assert_rollups_equal_facts(reporting)
    expected: dict[str, set[uuid.UUID]] = defaultdict(set)
    async with reporting.admin_engine.connect() as conn:
        for sex, person in await conn.execute(
            text(
                f"SELECT COALESCE(sex, 'unknown'), person_id FROM case_facts "
                f"WHERE generation = {ACTIVE} AND tenant_id = ANY(:t) AND opened_on IS NOT NULL"
            ),
            {"t": tenants},
        ):
            expected[sex].add(person)
    response = await reporting.client.get("/v1/reports/summary", headers=await auth("coordinator"))
    assert response.status_code == 200, response.text
    persons = _cells(response.json(), "persons_by_sex")
    for sex, who in expected.items():
        shown = persons[("EX-TM", sex)]
        assert shown == (len(who) if len(who) >= 5 else "<5"), (
            f"persons of sex {sex} under EX-TM: {shown}, the cases give {len(who)}"
        )

    # Erasure: rows deleted (and a closure undone) under the NGO's own row-level security.
    engine = create_async_engine(reporting.settings.db_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenants[0])}
            )
            await conn.execute(
                text(
                    f"DELETE FROM case_facts WHERE generation = {ACTIVE} AND case_id IN "
                    f"(SELECT case_id FROM case_facts WHERE generation = {ACTIVE} LIMIT 7)"
                )
            )
            await conn.execute(
                text(
                    f"DELETE FROM assistance_facts WHERE generation = {ACTIVE} "
                    f"AND assistance_id IN (SELECT assistance_id FROM assistance_facts "
                    f"WHERE generation = {ACTIVE} LIMIT 5)"
                )
            )
            await conn.execute(
                text(
                    f"UPDATE case_facts SET closed_on = NULL, closure_reason = NULL "
                    f"WHERE generation = {ACTIVE} AND closed_on IS NOT NULL"
                )
            )
    finally:
        await engine.dispose()
    await _assert_rollups_equal_facts(reporting)

    # A rebuild replays the history into a new generation with rollups of its own, and the
    # old generation's rollups go with its facts.
    before = await reporting.scalar(f"SELECT {ACTIVE}")
    headers = {**await auth("platform-admin"), "Idempotency-Key": str(uuid.uuid4())}
    response = await reporting.client.post("/v1/admin/rebuild", headers=headers)
    assert response.status_code == 200, response.text
    await _assert_rollups_equal_facts(reporting)
    for table in ("report_counts", "case_persons"):
        left = await reporting.scalar(
            f"SELECT count(*) FROM {table} WHERE generation = :g", g=before
        )
        assert left == 0, f"{table} kept {left} rows of the replaced generation"


async def test_racing_writers_neither_deadlock_nor_miscount(reporting: Reporting) -> None:
    """Writers of the same rollup rows in opposite orders queue on the table's lock."""
    generation = 90_000 + random.randrange(1000)  # a generation no report reads
    tenant = uuid.uuid4()
    days = [date(2026, 4, 1) + timedelta(days=i) for i in range(12)]
    engine = create_async_engine(reporting.settings.db_url, pool_size=6)

    async def writer(order: list[date]) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.all_tenants', 'on', true)"))
            for day in order:
                await conn.execute(
                    text(
                        "INSERT INTO case_facts (generation, case_id, tenant_id, person_id, "
                        "opened_on, sex, categories) VALUES (:g, :c, :t, :p, :d, 'female', "
                        "ARRAY['deportee'])"
                    ),
                    {"g": generation, "c": uuid.uuid4(), "t": tenant, "p": uuid.uuid4(), "d": day},
                )
                await asyncio.sleep(0.001)

    try:
        await asyncio.gather(*(writer(days if i % 2 else days[::-1]) for i in range(6)))
        await _assert_rollups_equal_facts(reporting, generation)
        opened = await reporting.scalar(
            "SELECT sum(n) FROM report_counts WHERE generation = :g "
            "AND measure = 'cases_opened.sex' AND grain = 'day'",
            g=generation,
        )
        assert opened == 6 * len(days)
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.all_tenants', 'on', true)"))
            await conn.execute(
                text("DELETE FROM case_facts WHERE generation = :g"), {"g": generation}
            )
        await _assert_rollups_equal_facts(reporting, generation)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.all_tenants', 'on', true)"))
            for table in ("case_facts", "report_counts", "case_persons"):
                await conn.execute(
                    text(f"DELETE FROM {table} WHERE generation = :g"), {"g": generation}
                )
        await engine.dispose()


async def test_another_ngo_sees_none_of_an_ngos_rollups(reporting: Reporting) -> None:
    engine = create_async_engine(reporting.settings.db_url, pool_size=1)
    try:
        owners: dict[str, set[uuid.UUID]] = {}
        async with reporting.admin_engine.connect() as conn:
            for table in ("report_counts", "case_persons"):
                owners[table] = set(
                    (await conn.execute(text(f"SELECT DISTINCT tenant_id FROM {table}")))
                    .scalars()
                    .all()
                )
        for table, tenants in owners.items():
            assert len(tenants) >= 2, f"{table}: the history should fill several NGOs' rows"
            async with engine.begin() as conn:
                seen = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
                assert seen == 0, f"{table}: {seen} rows visible without a tenant"
            for tenant in list(tenants)[:3]:
                async with engine.begin() as conn:
                    await conn.execute(
                        text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)}
                    )
                    visible = (
                        (await conn.execute(text(f"SELECT DISTINCT tenant_id FROM {table}")))
                        .scalars()
                        .all()
                    )
                    assert visible == [tenant], f"{table}: another NGO's rows are visible"
                    # Nor can it write a row in another NGO's name.
                    other = next(t for t in tenants if t != tenant)
                    failed = False
                    try:
                        async with conn.begin_nested():
                            await conn.execute(
                                text(f"UPDATE {table} SET tenant_id = :o WHERE tenant_id = :t"),
                                {"o": other, "t": tenant},
                            )
                    except Exception:  # the policy's WITH CHECK refuses it
                        failed = True
                    assert failed, f"{table}: a row was moved to another NGO"
    finally:
        await engine.dispose()
