"""Several instances of each service, as the Kubernetes Deployments run them (``replicas: 2``,
or more): with two, the first instance of every one killed at once mid-load, the second
carrying on alone, then the first started again; with three, the first and then the second
killed, the third carrying on alone. Nothing lost, nothing doubled.

What the instances share, and these scenarios break under load: the database (registrations
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


async def test_three_instances_of_each_service_two_killed_in_turn_lose_and_double_nothing(
    platform: Platform, report: Callable[[Table], None]
) -> None:
    """Three instances of each service: the first of every one killed, then the second while
    the first is still down, so the third carries on alone and receives what both held
    unacknowledged; then the first started again. The second stays dead (a node lost for
    good): its relays' claimed outbox rows and its consumers' messages must reach the others."""
    mark = platform.exit_mark()
    numbers = (2, 3)
    started = await asyncio.gather(
        *(
            asyncio.to_thread(platform.start_replica, service, number)
            for service in REPLICATED
            for number in numbers
        )
    )
    urls = iter(started)
    replicas = {
        service: [platform.urls[service], *(next(urls) for _ in numbers)] for service in REPLICATED
    }
    try:
        load = Load(
            platform.urls,
            platform.issuer,
            marker=date(2021, 3, 1),
            registration_workers=3,
            replicas=replicas,
        )
        await load.start()
        await asyncio.sleep(4)
        for service in REPLICATED:
            await asyncio.to_thread(platform.kill, service)  # the first instance
        await asyncio.sleep(4)
        for service in REPLICATED:
            await asyncio.to_thread(platform.kill, f"{service}#2")
        await asyncio.sleep(8)  # the third alone, past the ack wait
        await asyncio.to_thread(platform.restart_services, REPLICATED)
        await asyncio.sleep(3)
        await load.stop()
        await load.finish()
        rows, settled = await settle(platform, load)
    finally:
        for service in REPLICATED:
            for number in numbers:
                await asyncio.to_thread(platform.stop_replica, service, number)
    exits = platform.exits_since(mark)
    table = Table(
        "three instances of intake, referral, notification and reporting; the first of each "
        "killed (kill -9), 4 s later the second, the third alone for 8 s, then the first "
        "started again (the second stays dead)",
        rows,
        [
            f"exit codes: {exits}",
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
        ],
    )
    report(table)
    assert not load.failures, load.failures
    expected = {name: [-9] for service in REPLICATED for name in (service, f"{service}#2")}
    assert exits == expected, exits
    assert table.clean, table.markdown()
