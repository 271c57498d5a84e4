"""A small disk of a scenario's own, and a ballast file that fills it to the last byte."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import pytest

from tests.faults.conftest import SERVICES
from tests.faults.platform import Platform, start_platform


@contextmanager
def small_disk(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``mount`` while the block runs. Mounting needs root:
    elsewhere the calling test is skipped."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@contextmanager
def platform_on_small_disk(
    home: Path, *, size: str, namespace: str, server: Literal["postgres", "nats"]
) -> Iterator[tuple[Platform, Path]]:
    """A platform of its own whose PostgreSQL or NATS server keeps its data on a small disk
    (:func:`small_disk`); the platform and the disk."""
    with small_disk(home / "small-disk", size) as disk:
        where = {"pg_dir": disk / "pg"} if server == "postgres" else {"nats_dir": disk / "nats"}
        started = start_platform(home / "platform", namespace=namespace, services=SERVICES, **where)
        try:
            yield started, disk
        finally:
            started.stop()


def fill(disk: Path) -> int:
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


def free(disk: Path) -> None:
    """What the operator does: remove the ballast."""
    (disk / "ballast").unlink()
