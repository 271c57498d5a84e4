"""PostgreSQL's disk fills up mid-load, then an operator frees space (and starts PostgreSQL
again if it stopped): nothing acknowledged is lost, nothing doubled, and no client was told
a request failed for good while the disk was full.

PostgreSQL's data directory is put on a small disk of its own (a tmpfs mounted for this
module), filled to the last byte with a ballast file while the load runs. Mounting needs
root: elsewhere the scenario is skipped.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.faults.conftest import SERVICES
from tests.faults.counters import Table, settle
from tests.faults.load import Load
from tests.faults.platform import Platform, start_platform

DISK_SIZE = "768m"


@pytest.fixture(scope="module")
def small_disk(faults_home: Path) -> Iterator[Path]:
    mount = faults_home / "small-disk"
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def on_small_disk(small_disk: Path, faults_home: Path, namespace: str) -> Iterator[Platform]:
    started = start_platform(
        faults_home / "disk",
        namespace=f"{namespace}d",
        services=SERVICES,
        pg_dir=small_disk / "pg",
    )
    try:
        yield started
    finally:
        started.stop()


def _fill(disk: Path) -> int:
    """Write a ballast file until the disk has no byte left; its size in MiB."""
    fd = os.open(disk / "ballast", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    written = 0
    try:
        for size in (1 << 20, 4096, 1):  # MiB by MiB, then the last pages, then bytes
            block = b"\0" * size
            while True:
                try:
                    written += os.write(fd, block)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return written >> 20


async def test_postgresql_disk_full_mid_load_loses_and_doubles_nothing(
    on_small_disk: Platform, small_disk: Path, report: Callable[[Table], None]
) -> None:
    platform = on_small_disk
    load = Load(platform.urls, platform.issuer, marker=date(2021, 1, 1))
    await load.start()
    await asyncio.sleep(4)
    ballast = await asyncio.to_thread(_fill, small_disk)
    await asyncio.sleep(15)
    full_retries = dict(load.ledger.retried_on)
    (small_disk / "ballast").unlink()
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
