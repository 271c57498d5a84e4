"""A three-node JetStream cluster (configs rendered from deploy/nats) with R3 streams: the node
leading the INTAKE stream is killed mid-load and restarted, then the node leading REFERRAL; two
nodes killed at once; the leader of INTAKE cut off (frozen) for 15 s. Nothing lost, nothing
doubled, and every replica is current at the end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import nats
import pytest

from tests.faults.conftest import SERVICES
from tests.faults.counters import Table, settle
from tests.faults.load import Load
from tests.faults.platform import ClusterNode, Platform, start_platform
from tirek.messaging.streams import STREAMS


@pytest.fixture(scope="module")
def clustered(faults_home: Path, namespace: str) -> Iterator[Platform]:
    # Admin only publishes (the seed publishes the demo's tenants and agreements itself).
    started = start_platform(
        faults_home / "cluster",
        namespace=f"{namespace}c",
        services=tuple(s for s in SERVICES if s != "admin"),
        cluster=True,
    )
    try:
        yield started
    finally:
        started.stop()


async def _leader(platform: Platform, stream: str) -> ClusterNode:
    assert platform.cluster is not None
    nc = await platform.connect_nats()
    try:
        info = await nc.jetstream().stream_info(platform.naming.stream(stream))
    finally:
        await nc.close()
    assert info.config.num_replicas == 3, f"{stream} is not an R3 stream"
    assert info.cluster is not None and info.cluster.leader
    return next(n for n in platform.cluster.nodes if info.cluster.leader.endswith(str(n.index)))


async def _replicas_current(platform: Platform, timeout: float = 60) -> dict[str, str]:
    """Every stream's replicas current (no lag), waiting for the restarted nodes to catch up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    nc = await platform.connect_nats()
    try:
        while True:
            state: dict[str, str] = {}
            for name in STREAMS:
                try:
                    info = await nc.jetstream().stream_info(platform.naming.stream(name))
                except nats.errors.TimeoutError:
                    # A cluster still electing may not answer the API in time: ask again.
                    state[name] = "no answer (waiting)"
                    continue
                replicas = info.cluster.replicas if info.cluster else None
                state[name] = ", ".join(
                    f"{r.name}:{'current' if r.current else 'behind'}/lag {r.lag or 0}"
                    for r in replicas or []
                )
                if (
                    not replicas
                    or len(replicas) != 2
                    or any(not r.current or (r.lag or 0) for r in replicas)
                ):
                    state[name] += " (waiting)"
            if not any("(waiting)" in s for s in state.values()) or loop.time() > deadline:
                return state
            await asyncio.sleep(1)
    finally:
        await nc.close()


async def test_killing_one_node_then_another_of_an_r3_cluster_loses_and_doubles_nothing(
    clustered: Platform, report: Callable[[Table], None]
) -> None:
    cluster = clustered.cluster
    assert cluster is not None
    load = Load(clustered.urls, clustered.issuer, marker=date(2020, 6, 1))
    await load.start()
    await asyncio.sleep(4)
    killed = []
    for stream in ("INTAKE", "REFERRAL"):
        node = await _leader(clustered, stream)
        killed.append(f"tirek-nats-{node.index} (leading {stream})")
        await asyncio.to_thread(node.kill)
        await asyncio.sleep(5)
        await asyncio.to_thread(cluster.restart, node)
        await asyncio.sleep(5)
    await load.stop()
    await load.finish()
    rows, settled = await settle(clustered, load)
    replicas = await _replicas_current(clustered)
    table = Table(
        "three-node JetStream cluster, R3 streams: "
        + ", then ".join(f"kill -9 of {k}, restarted after 5 s" for k in killed),
        rows,
        [
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
            "followers at the end: " + "; ".join(f"{k}: {v}" for k, v in replicas.items()),
        ],
    )
    report(table)
    assert not load.failures, load.failures
    assert table.clean, table.markdown()
    assert not any("(waiting)" in v for v in replicas.values()), replicas


async def test_two_nodes_down_at_once_stall_the_streams_and_lose_nothing(
    clustered: Platform, report: Callable[[Table], None]
) -> None:
    """Two of three nodes killed together: the streams lose their quorum and refuse writes
    while registrations go on committing to the database (their events wait in the outbox)
    and consumers wait; both nodes back, everything flows again, nothing lost or doubled."""
    cluster = clustered.cluster
    assert cluster is not None
    load = Load(clustered.urls, clustered.issuer, marker=date(2020, 9, 1))
    await load.start()
    await asyncio.sleep(4)
    leader = await _leader(clustered, "INTAKE")
    # The leader of INTAKE and one other node: the survivor alone is no majority.
    down = [leader, next(n for n in cluster.nodes if n is not leader)]
    for node in down:
        await asyncio.to_thread(node.kill)
    registered_before = len(load.ledger.registrations)
    await asyncio.sleep(10)
    registered_while_down = len(load.ledger.registrations) - registered_before
    for node in down:
        await asyncio.to_thread(cluster.restart, node)
    await cluster.wait_for_jetstream()
    # Until every stream has a leader and current followers again (the counters read them).
    back = await _replicas_current(clustered, timeout=120)
    await asyncio.sleep(5)
    await load.stop()
    await load.finish()
    rows, settled = await settle(clustered, load)
    replicas = await _replicas_current(clustered)
    table = Table(
        "three-node JetStream cluster, R3 streams: kill -9 of two nodes at once "
        f"(tirek-nats-{down[0].index}, leading INTAKE, and tirek-nats-{down[1].index}), "
        "both restarted after 10 s",
        rows,
        [
            f"registrations acknowledged while the streams had no quorum: {registered_while_down}",
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
            "followers at the end: " + "; ".join(f"{k}: {v}" for k, v in replicas.items()),
        ],
    )
    report(table)
    assert not load.failures, load.failures
    assert registered_while_down > 0, "registrations stopped with the broker's quorum"
    assert not any("(waiting)" in v for v in back.values()), back
    assert table.clean, table.markdown()
    assert not any("(waiting)" in v for v in replicas.values()), replicas


async def _leader_besides(
    platform: Platform, stream: str, frozen: ClusterNode, timeout: float = 20
) -> ClusterNode:
    """The stream's leader as the nodes that answer know it (asked again while a request
    reaches the frozen node, or the old leader is still named)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            leader = await asyncio.wait_for(_leader(platform, stream), 10)
        except (TimeoutError, nats.errors.Error):
            leader = frozen
        if leader is not frozen or loop.time() > deadline:
            return leader
        await asyncio.sleep(1)


async def test_a_leader_cut_off_from_the_cluster_loses_and_doubles_nothing(
    clustered: Platform, report: Callable[[Table], None]
) -> None:
    """The node leading INTAKE frozen (SIGSTOP) for 15 s: alive, its routes and its clients'
    connections open, and silent, as behind a partition. The two others elect a new leader;
    services connected to the frozen node wait on it. Thawed, the old leader finds a newer
    term and follows: nothing it held may be lost, nothing published twice."""
    cluster = clustered.cluster
    assert cluster is not None
    load = Load(clustered.urls, clustered.issuer, marker=date(2021, 4, 1))
    await load.start()
    await asyncio.sleep(4)
    frozen = await _leader(clustered, "INTAKE")
    await asyncio.to_thread(frozen.freeze)
    try:
        await asyncio.sleep(15)
        elected = await _leader_besides(clustered, "INTAKE", frozen)
    finally:
        await asyncio.to_thread(frozen.thaw)
    back = await _replicas_current(clustered, timeout=120)
    await asyncio.sleep(5)
    await load.stop()
    await load.finish()
    rows, settled = await settle(clustered, load)
    replicas = await _replicas_current(clustered)
    table = Table(
        f"three-node JetStream cluster, R3 streams: tirek-nats-{frozen.index}, leading INTAKE, "
        f"frozen (SIGSTOP) for 15 s, then continued; tirek-nats-{elected.index} led INTAKE "
        "meanwhile",
        rows,
        [
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
            "followers at the end: " + "; ".join(f"{k}: {v}" for k, v in replicas.items()),
        ],
    )
    report(table)
    assert not load.failures, load.failures
    assert elected is not frozen, "no new leader while the old one was cut off"
    assert not any("(waiting)" in v for v in back.values()), back
    assert table.clean, table.markdown()
    assert not any("(waiting)" in v for v in replicas.values()), replicas
