"""The event pipeline: commit of a registration → its row in reporting's projection.

Latency: registrations are sent open-loop at half intake's sustained rate; a trigger that the
benchmark adds to reporting's ``case_facts`` NOTIFYs each projected case id on commit, and a
LISTENing connection timestamps it. The start is when the 201 arrived, just after intake's
commit (so the figure includes the outbox relay, JetStream, the consumer and the projection's
commit, and leaves out at most the answer's trip back).

Catch-up: reporting is stopped, ``--catchup-events`` registrations are published straight to
the INTAKE stream as intake would publish them, reporting is started again and the projected
events are counted (reporting's inbox, written in the same transaction as the projection)
until all are there.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import date, timedelta

import httpx
import nats

from bench.common import Figure, paced, registration
from bench.platform import Platform
from tirek.demo.consortium import tenant_by_code
from tirek.events import Envelope
from tirek.events.intake import (
    AgeBand,
    CaseCategory,
    CaseRegistered,
    CaseStatus,
    RiskLevel,
    Sex,
    TrmStage,
)
from tirek.messaging.streams import REPORTING_CASES

_TRIGGER = """
CREATE OR REPLACE FUNCTION bench_projected() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('bench_projected', NEW.case_id::text); RETURN NULL; END $$;
DROP TRIGGER IF EXISTS bench_projected ON case_facts;
CREATE TRIGGER bench_projected AFTER INSERT ON case_facts
    FOR EACH ROW EXECUTE FUNCTION bench_projected();
"""
_UNTRIGGER = "DROP TRIGGER IF EXISTS bench_projected ON case_facts"
_APPLIED = "SELECT count(*) FROM inbox WHERE consumer = $1"


async def latency(platform: Platform, *, rate: float, count: int) -> Figure:
    conn = await platform.database("reporting")
    committed: dict[str, float] = {}
    projected: dict[str, float] = {}
    all_seen = asyncio.Event()

    def on_notify(_c: object, _pid: int, _channel: str, case_id: str) -> None:
        projected[case_id] = time.perf_counter()
        if len(projected) >= count and len(committed) >= count:
            all_seen.set()

    await conn.execute(_TRIGGER)
    await conn.add_listener("bench_projected", on_notify)
    url = f"{platform.urls['intake']}/v1/cases"
    headers = await platform.auth("akt-caseworker")
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    try:
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:

            async def register(i: int) -> None:
                response = await client.post(url, json=registration(i), headers=headers)
                committed[response.json()["id"]] = time.perf_counter()

            await paced(count, rate, register)
        try:
            async with asyncio.timeout(120):
                while not set(committed) <= set(projected):  # noqa: ASYNC110 - filled by NOTIFY
                    await asyncio.sleep(0.1)
        except TimeoutError:
            pass
    finally:
        await conn.remove_listener("bench_projected", on_notify)
        await conn.execute(_UNTRIGGER)
        await conn.close()
    missing = len(set(committed) - set(projected))
    delays = [(projected[c] - t) * 1000 for c, t in committed.items() if c in projected]
    note = f"{count} registrations at {rate:.0f}/s (half the sustained rate)"
    if missing:
        note += f"; {missing} NOT PROJECTED within 120 s"
    return Figure("pipeline: commit → reporting projection", None, "", delays, note)


def _registration(rng: random.Random, tenant: uuid.UUID, today: date) -> Envelope:
    case_id = uuid.uuid4()
    payload = CaseRegistered(
        case_id=case_id,
        case_number=f"KZ-AKT-BENCH-{case_id.hex[:8]}",
        person_id=uuid.uuid4(),
        opened_on=today - timedelta(days=rng.randrange(1000)),
        country="KZ",
        sex=rng.choice(list(Sex)),
        age_band=rng.choice(list(AgeBand)),
        citizenship=rng.choice(["KG", "UZ", "TJ", "KZ"]),
        categories=[rng.choice(list(CaseCategory))],
        trm_stage=rng.choice(list(TrmStage)),
        status=CaseStatus.ACTIVE,
        risk_level=rng.choice(list(RiskLevel)),
    )
    return Envelope.wrap(payload, tenant=tenant, subject=case_id)


async def _publish(platform: Platform, count: int) -> float:
    rng = random.Random(7)
    tenant = tenant_by_code("AKT").id
    today = date.today()
    nc = await nats.connect(platform.urls["nats"])
    started = time.perf_counter()
    try:
        js = nc.jetstream()
        for first in range(0, count, 500):
            envelopes = [_registration(rng, tenant, today) for _ in range(min(500, count - first))]
            await asyncio.gather(
                *(
                    js.publish(
                        platform.naming.subject(e.subject_name),
                        e.model_dump_json().encode(),
                        headers={"Nats-Msg-Id": str(e.id)},
                        timeout=60,
                    )
                    for e in envelopes
                )
            )
    finally:
        await nc.close()
    return time.perf_counter() - started


async def catch_up(platform: Platform, *, count: int) -> Figure:
    conn = await platform.database("reporting")
    try:
        await asyncio.to_thread(platform.stop_service, "reporting")
        # Counted in the inbox (written with each projected event): counting case_facts, with
        # a million generated rows in it, would load the machine four times a second.
        base = await conn.fetchval(_APPLIED, REPORTING_CASES.name)
        published_in = await _publish(platform, count)
        started = time.perf_counter()
        await asyncio.to_thread(platform.start_service, "reporting")
        ready = time.perf_counter()
        first = None
        while True:
            projected = await conn.fetchval(_APPLIED, REPORTING_CASES.name) - base
            now = time.perf_counter()
            if first is None and projected > 0:
                first = (now, projected)
            if projected >= count:
                break
            if now - started > 1800:
                raise RuntimeError(f"reporting caught up {projected} of {count} in 30 min")
            await asyncio.sleep(0.25)
    finally:
        await conn.close()
    assert first is not None
    rate = (count - first[1]) / max(now - first[0], 1e-6)
    return Figure(
        "pipeline catch-up: backlog → projection",
        rate,
        "events/s",
        note=f"{count:,} events waiting (published in {published_in:.0f} s); "
        f"all projected {now - started:.0f} s after start (ready after {ready - started:.0f} s)",
    )
