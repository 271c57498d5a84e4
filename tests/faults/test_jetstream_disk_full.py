"""JetStream's disk fills up mid-load, then an operator frees space and restarts the NATS
server: nothing acknowledged is lost, nothing doubled, and registrations went on being
accepted meanwhile.

The NATS server keeps its JetStream store on a small disk of its own (a tmpfs mounted for
this module), filled to the last byte with a ballast file while the load runs. What the
server does then (nats-server 2.x, seen here): the stream that fails a write logs a
"critical write error" and answers no more publishes, even once space is free, until the
server restarts; what it had acknowledged is still there after the restart. So the
services' outboxes hold every event meanwhile and their relays retry, and the operator's
restart is part of the scenario. Mounting needs root: elsewhere the scenario is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.faults import disks
from tests.faults.conftest import SERVICES
from tests.faults.counters import Table, service_rows, settle
from tests.faults.load import Load
from tests.faults.platform import Platform

DISK_SIZE = "256m"


@pytest.fixture(scope="module")
def nats_on_small_disk(faults_home: Path, namespace: str) -> Iterator[tuple[Platform, Path]]:
    with disks.platform_on_small_disk(
        faults_home / "js-disk", size=DISK_SIZE, namespace=f"{namespace}j", server="nats"
    ) as started:
        yield started


async def _unpublished(platform: Platform, service: str) -> int:
    [row] = await service_rows(
        platform, service, "SELECT count(*) FROM outbox WHERE published_at IS NULL"
    )
    return int(row[0])


async def test_jetstream_disk_full_mid_load_loses_and_doubles_nothing(
    nats_on_small_disk: tuple[Platform, Path], report: Callable[[Table], None]
) -> None:
    platform, small_disk = nats_on_small_disk
    load = Load(platform.urls, platform.issuer, marker=date(2021, 2, 1))
    await load.start()
    await asyncio.sleep(4)
    ballast = await asyncio.to_thread(disks.fill, small_disk)
    await asyncio.sleep(15)
    waiting = await _unpublished(platform, "intake")
    sent_while_full = load.ledger.summary()
    disks.free(small_disk)
    await asyncio.to_thread(platform.restart_nats)
    for service in SERVICES:
        await asyncio.to_thread(platform.wait_ready, service)
    await asyncio.sleep(5)
    await load.stop()
    await load.finish()
    rows, settled = await settle(platform, load)
    table = Table(
        f"JetStream's disk filled to the last byte ({ballast} MiB of ballast on a {DISK_SIZE} "
        "disk) for 15 s, then freed and the NATS server restarted (its streams answer no "
        "publish after a write error until then)",
        rows,
        [
            f"after 15 s of a full disk: {waiting} of intake's events waiting in its outbox; "
            + sent_while_full,
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
        ],
    )
    report(table)
    assert not load.failures, load.failures
    assert waiting > 0, "intake published everything while the disk was full: no fault injected"
    assert table.clean, table.markdown()
