"""PostgreSQL's disk fills up mid-load, then an operator frees space (and starts PostgreSQL
again if it stopped): nothing acknowledged is lost, nothing doubled, and no client was told
a request failed for good while the disk was full.

PostgreSQL's data directory is put on a small disk of its own (a tmpfs mounted for this
module), filled to the last byte with a ballast file while the load runs. Mounting needs
root: elsewhere the scenario is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.faults import disks
from tests.faults.conftest import SERVICES
from tests.faults.counters import Table, settle
from tests.faults.load import Load
from tests.faults.platform import Platform

DISK_SIZE = "768m"


@pytest.fixture(scope="module")
def on_small_disk(faults_home: Path, namespace: str) -> Iterator[tuple[Platform, Path]]:
    with disks.platform_on_small_disk(
        faults_home / "disk", size=DISK_SIZE, namespace=f"{namespace}d", server="postgres"
    ) as started:
        yield started


async def test_postgresql_disk_full_mid_load_loses_and_doubles_nothing(
    on_small_disk: tuple[Platform, Path], report: Callable[[Table], None]
) -> None:
    platform, small_disk = on_small_disk
    load = Load(platform.urls, platform.issuer, marker=date(2021, 1, 1))
    await load.start()
    await asyncio.sleep(4)
    ballast = await asyncio.to_thread(disks.fill, small_disk)
    await asyncio.sleep(15)
    full_retries = dict(load.ledger.retried_on)
    disks.free(small_disk)
    restarted = not platform.postgres_running()
    if restarted:  # PostgreSQL stops when it cannot write its WAL: the operator starts it
        await asyncio.to_thread(platform.start_postgres)
    for service in SERVICES:
        await asyncio.to_thread(platform.wait_ready, service)
    await asyncio.sleep(5)
    await load.stop()
    await load.finish()
    rows, settled = await settle(platform, load)
    table = Table(
        f"PostgreSQL's disk filled to the last byte ({ballast} MiB of ballast on a "
        f"{DISK_SIZE} disk) for 15 s, then freed"
        + (" and PostgreSQL started again (it had stopped)" if restarted else ""),
        rows,
        [
            f"client retries while the disk was full, by answer: {full_retries}",
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
        ],
    )
    report(table)
    assert not load.failures, load.failures
    assert load.ledger.retries > 0, "no client saw the full disk: no fault injected"
    # A full disk is the server's trouble, not the request's: 503 with Retry-After.
    assert "500" not in load.ledger.retried_on, load.ledger.retried_on
    assert table.clean, table.markdown()
