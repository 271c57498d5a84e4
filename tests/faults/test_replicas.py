"""Two instances of each service, as the Kubernetes Deployments run them (``replicas: 2``): the
first instance of every one killed at once mid-load, the second carrying on alone, then the
first started again. Nothing lost, nothing doubled.

What two instances share, and this scenario breaks under load: the database (registrations
of one NGO numbered by both, idempotency keys claimed by either, the outbox drained by two
relays that lock rows with SKIP LOCKED) and the durable consumers (a message the killed
instance held unacknowledged is redelivered to the survivor after the ack wait).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

from tests.faults.counters import Table, settle
from tests.faults.load import Load
from tests.faults.platform import Platform

REPLICATED = ("intake", "referral", "notification", "reporting")


async def test_two_instances_of_each_service_one_killed_mid_load_lose_and_double_nothing(
    platform: Platform, report: Callable[[Table], None]
) -> None:
    mark = platform.exit_mark()
    second = await asyncio.gather(
        *(asyncio.to_thread(platform.start_replica, service) for service in REPLICATED)
    )
    try:
        replicas = {
            service: [platform.urls[service], url]
            for service, url in zip(REPLICATED, second, strict=True)
        }
        load = Load(
            platform.urls,
            platform.issuer,
            marker=date(2020, 8, 1),
            registration_workers=3,
            replicas=replicas,
        )
        await load.start()
        await asyncio.sleep(4)
        for service in REPLICATED:
            await asyncio.to_thread(platform.kill, service)  # the first instance only
        await asyncio.sleep(8)  # the second instances alone, past the ack wait
        await asyncio.to_thread(platform.restart_services, REPLICATED)
        await asyncio.sleep(3)
        await load.stop()
        await load.finish()
        rows, settled = await settle(platform, load)
    finally:
        for service in REPLICATED:
            await asyncio.to_thread(platform.stop_replica, service)
    exits = platform.exits_since(mark)
    table = Table(
        "two instances of intake, referral, notification and reporting; the first of each "
        "killed (kill -9) at once, the second alone for 8 s, then the first started again",
        rows,
        [
            f"exit codes: {exits}",
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
        ],
    )
    report(table)
    assert not load.failures, load.failures
    assert exits == {name: [-9] for name in REPLICATED}, exits
    assert table.clean, table.markdown()
