"""``kill -9`` of each service in turn, mid-load, then a restart: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

from tests.faults.conftest import SERVICES
from tests.faults.counters import Table, settle
from tests.faults.load import Load
from tests.faults.platform import Platform


async def test_kill_9_of_each_service_mid_load_loses_and_doubles_nothing(
    platform: Platform, report: Callable[[Table], None]
) -> None:
    mark = platform.exit_mark()
    load = Load(platform.urls, platform.issuer, marker=date(2020, 1, 1))
    await load.start()
    await asyncio.sleep(3)
    # A rolling failure: each service dies in turn, 3 s after the one before, and is started
    # again at once (it takes seconds to be ready, so two may be down together).
    for service in SERVICES:
        await asyncio.to_thread(platform.kill, service)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(platform.start_service, service, wait=False)
        await asyncio.sleep(2.5)
    for service in SERVICES:
        await asyncio.to_thread(platform.wait_ready, service)
    await asyncio.sleep(2)
    await load.stop()
    await load.finish()
    rows, settled = await settle(platform, load)
    exits = platform.exits_since(mark)
    table = Table(
        "kill -9 of intake, referral, notification, reporting and admin in turn, 3 s apart, "
        "each started again at once",
        rows,
        [
            f"exit codes: {exits}",
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
        ],
    )
    report(table)
    assert not load.failures, load.failures
    assert exits == {name: [-9] for name in SERVICES}, exits
    assert table.clean, table.markdown()


async def test_everything_killed_at_once_loses_and_doubles_nothing(
    platform: Platform, report: Callable[[Table], None]
) -> None:
    """What a power cut does to the processes: every service, the NATS server and PostgreSQL
    die in the same instant, with nothing flushed or shut down cleanly, and come back.

    A real power cut also drops what the kernel had not written to disk; that is what
    PostgreSQL's fsync and JetStream's ``sync_interval: always`` (deploy/nats) are for, and it
    cannot be caused from here: this scenario proves that no acknowledged effect depends on
    any process outliving another."""
    mark = platform.exit_mark()
    load = Load(platform.urls, platform.issuer, marker=date(2020, 12, 1))
    await load.start()
    await asyncio.sleep(4)
    await asyncio.gather(
        *(asyncio.to_thread(platform.kill, service) for service in SERVICES),
        asyncio.to_thread(platform.kill_nats),
        asyncio.to_thread(platform.stop_postgres),
    )
    await asyncio.sleep(3)
    await asyncio.to_thread(platform.start_postgres)
    await asyncio.to_thread(platform.start_nats)
    await asyncio.to_thread(platform.restart_services, SERVICES)
    await asyncio.sleep(3)
    await load.stop()
    await load.finish()
    rows, settled = await settle(platform, load)
    exits = platform.exits_since(mark)
    table = Table(
        "everything at once: kill -9 of every service and of the NATS server, PostgreSQL "
        "stopped with -m immediate, in the same instant; all started again after 3 s",
        rows,
        [
            f"exit codes: {exits}",
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
        ],
    )
    report(table)
    assert not load.failures, load.failures
    assert exits == {name: [-9] for name in SERVICES}, exits
    assert load.ledger.retries > 0, "no client saw the outage: no fault injected"
    assert table.clean, table.markdown()
