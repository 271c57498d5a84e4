"""The local servers' ports: asked for together they are distinct, and a server that dies before
it listens is reported at once, with its log's end (a `.ci/run` once lost a cluster node so)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tirek.localstack.servers import free_port, wait_for_port


def test_ports_asked_for_one_after_another_are_all_distinct() -> None:
    ports = [free_port() for _ in range(300)]

    assert len(set(ports)) == len(ports)


def test_a_server_that_exits_before_listening_is_reported_at_once_with_its_log(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    log.write_text("[FTL] Error listening on port: address already in use\n")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    started = time.monotonic()

    with pytest.raises(RuntimeError, match="exited with 1") as raised:
        wait_for_port(free_port(), timeout=20, process=process, log=log)

    assert time.monotonic() - started < 10
    assert "address already in use" in str(raised.value)
