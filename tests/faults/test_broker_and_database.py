"""``kill -9`` of the NATS server, and PostgreSQL stopped, each mid-load, then restarted; and
each of them frozen (SIGSTOP: what a network partition looks like from the services, open
connections that answer nothing), then thawed: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

from tests.faults.counters import Table, settle
from tests.faults.load import Load
from tests.faults.platform import Platform


async def _scenario(
    platform: Platform,
    report: Callable[[Table], None],
    *,
    title: str,
    marker: date,
    stop: Callable[[], None],
    start: Callable[[], None],
    down: float = 4.0,
) -> Load:
    load = Load(platform.urls, platform.issuer, marker=marker)
    await load.start()
    await asyncio.sleep(4)
    await asyncio.to_thread(stop)
    await asyncio.sleep(down)
    await asyncio.to_thread(start)
    await asyncio.sleep(6)
    await load.stop()
    await load.finish()
    rows, settled = await settle(platform, load)
    table = Table(
        title,
        rows,
        [
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
        ],
    )
    report(table)
    assert not load.failures, load.failures
    assert table.clean, table.markdown()
    return load


async def test_kill_9_of_the_nats_server_mid_load_loses_and_doubles_nothing(
    platform: Platform, report: Callable[[Table], None]
) -> None:
    await _scenario(
        platform,
        report,
        title="kill -9 of the NATS server (JetStream, sync_interval: always), restarted after 4 s",
        marker=date(2020, 2, 1),
        stop=platform.kill_nats,
        start=platform.start_nats,
    )


async def test_postgresql_stopped_mid_load_loses_and_doubles_nothing(
    platform: Platform, report: Callable[[Table], None]
) -> None:
    load = await _scenario(
        platform,
        report,
        title="PostgreSQL stopped (pg_ctl -m immediate: every connection cut), restarted after "
        "25 s (longer than a consumer's 18 s budget of redeliveries)",
        marker=date(2020, 3, 1),
        stop=platform.stop_postgres,
        start=platform.start_postgres,
        down=25.0,
    )
    assert load.ledger.retries > 0, "the outage was never seen by a client: no fault injected"


async def test_the_nats_server_unreachable_mid_load_loses_and_doubles_nothing(
    platform: Platform, report: Callable[[Table], None]
) -> None:
    await _scenario(
        platform,
        report,
        title="the NATS server frozen (SIGSTOP) for 15 s, as behind a network partition: "
        "connections open, no answer",
        marker=date(2020, 10, 1),
        stop=platform.freeze_nats,
        start=platform.thaw_nats,
        down=15.0,
    )


async def test_postgresql_unreachable_mid_load_loses_and_doubles_nothing(
    platform: Platform, report: Callable[[Table], None]
) -> None:
    load = await _scenario(
        platform,
        report,
        title="PostgreSQL frozen (SIGSTOP of every process) for 15 s, as behind a network "
        "partition: transactions hang mid-way, clients time out and retry with their key",
        marker=date(2020, 11, 1),
        stop=platform.freeze_postgres,
        start=platform.thaw_postgres,
        down=15.0,
    )
    assert load.ledger.retries > 0, "the partition was never seen by a client: no fault injected"
