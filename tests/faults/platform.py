"""The platform as ``make run`` starts it, with handles to break it: kill -9 a service, a NATS
node or the NATS server, stop PostgreSQL, and start each again.

NATS and PostgreSQL are the suite's own (started here on free loopback ports, not the test
plugin's), so killing them touches nothing else. The services and the development issuer are
the processes :class:`tirek.localstack.stack.Stack` spawns, seeded by ``make run``'s own seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import nats
import psutil
from nats.aio.client import Client

from tirek.localstack.__main__ import seed_demo
from tirek.localstack.servers import (
    NatsServer,
    PostgresServer,
    free_port,
    nats_server_binary,
    wait_for_port,
)
from tirek.localstack.stack import Stack
from tirek.messaging.naming import Naming
from tirek.messaging.streams import CONSUMERS, ensure_streams

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_CONFIGS = sorted((ROOT / "deploy" / "nats").glob("cluster-node*.conf"))
#: How long the server waits for an ack before redelivering, in the fault suite (the shipped
#: consumers wait 30 s; a shorter wait only makes recovery after a kill quicker to observe).
ACK_WAIT = 8.0


# --------------------------------------------------------------------------- NATS cluster


@dataclass
class ClusterNode:
    """One ``nats-server`` of a three-node cluster, its config rendered from deploy/nats."""

    index: int
    data_dir: Path
    port: int
    monitor_port: int
    cluster_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def render(self, template: str, routes: list[int]) -> str:
        """deploy/nats/cluster-nodeN.conf with loopback ports and a local store directory.

        An ``include`` (users and permissions) is dropped: this suite tests replication.
        """
        text = re.sub(r"(?m)^\s*include\s+.*$", "", template)
        text = re.sub(r"(?m)^listen:.*$", f"listen: 127.0.0.1:{self.port}", text)
        text = re.sub(r"(?m)^http:.*$", f"http: 127.0.0.1:{self.monitor_port}", text)
        text = re.sub(
            r"(?m)^(\s*)store_dir:.*$",
            lambda m: f'{m.group(1)}store_dir: "{(self.data_dir / "js").as_posix()}"',
            text,
        )
        text = re.sub(
            r"(?m)^(\s+)listen:\s*0\.0\.0\.0:\d+",
            lambda m: f"{m.group(1)}listen: 127.0.0.1:{self.cluster_port}",
            text,
        )
        route_lines = "\n".join(f"    nats-route://127.0.0.1:{port}" for port in routes)
        text = re.sub(r"routes:\s*\[[^\]]*\]", f"routes: [\n{route_lines}\n  ]", text)
        assert "sync_interval: always" in text, "the shipped cluster config lost its fsync"
        return text

    def start(self, config: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "nats.conf"
        path.write_text(config)
        with open(self.data_dir / "nats.log", "ab") as out:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(path)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, timeout=20, process=self.process, log=self.data_dir / "nats.log")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: the node's connections (clients' and the other nodes' routes) stay open
        and nothing answers, as when a partition cuts it off from the rest of the cluster."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


@dataclass
class NatsCluster:
    nodes: list[ClusterNode]
    configs: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, home: Path) -> NatsCluster:
        assert len(CLUSTER_CONFIGS) == 3, "deploy/nats must hold three cluster node configs"
        nodes = [
            ClusterNode(i + 1, home / f"nats{i + 1}", free_port(), free_port(), free_port())
            for i in range(3)
        ]
        routes = [node.cluster_port for node in nodes]
        cluster = cls(nodes)
        for node, template in zip(nodes, CLUSTER_CONFIGS, strict=True):
            config = node.render(template.read_text(encoding="utf-8"), routes)
            cluster.configs.append(config)
            node.start(config)
        asyncio.run(cluster.wait_for_jetstream())
        return cluster

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def restart(self, node: ClusterNode) -> None:
        node.start(self.configs[node.index - 1])

    async def wait_for_jetstream(self, timeout: float = 60) -> None:
        """Until the cluster elected a meta leader and answers JetStream requests."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                nc = await nats.connect([n.url for n in self.nodes if n.process], connect_timeout=2)
                try:
                    await nc.jetstream().account_info()
                    return
                finally:
                    await nc.close()
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                node.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.process.wait(10)
                node.kill()


# --------------------------------------------------------------------------- the platform


@dataclass
class Platform:
    """Servers, the development issuer and the services of one ``make run``-style start."""

    home: Path
    stack: Stack
    urls: dict[str, str]
    naming: Naming
    nats_url: str
    pg: PostgresServer
    nats_server: NatsServer | None = None
    cluster: NatsCluster | None = None
    #: Exit codes of processes the suite killed or saw die.
    exits: dict[str, list[int]] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"{self.urls['issuer']}realms/tirek"

    @property
    def pg_admin_dsn(self) -> str:
        return self.pg.dsn

    def database(self, service: str) -> str:
        return f"{self.naming.namespace}_{service}"

    # ----------------------------------------------------------- services

    def process(self, service: str) -> subprocess.Popen[bytes]:
        return next(p for name, p in reversed(self.stack.processes) if name == service)

    def kill(self, service: str) -> None:
        """``kill -9`` the service's process (no shutdown of any kind)."""
        process = self.process(service)
        os.kill(process.pid, signal.SIGKILL)
        self.exits.setdefault(service, []).append(process.wait())

    def start_service(
        self, service: str, *, wrapper: list[str] | None = None, wait: bool = True
    ) -> None:
        """Start the service again on its port, optionally through a wrapper module
        (``python -m <wrapper...> <service> serve``), and (unless ``wait`` is false) wait
        until it is ready."""
        module = service.split("#")[0]  # a replica runs its service's module
        args = [*wrapper, module, "serve"] if wrapper else ["-m", module, "serve"]
        process = self.stack.spawn(service, args, self.stack.envs[service])
        if wait:
            wait_ready(self.urls[service], process)

    def restart_services(self, services: tuple[str, ...]) -> None:
        """Start each of ``services`` again, then wait until all are ready (they start
        side by side, as after a machine's reboot)."""
        for service in services:
            self.start_service(service, wait=False)
        for service in services:
            self.wait_ready(service)

    def exit_mark(self) -> dict[str, int]:
        """Where each process's record of exit codes stands now (for :meth:`exits_since`)."""
        return {name: len(codes) for name, codes in self.exits.items()}

    def exits_since(self, mark: dict[str, int]) -> dict[str, list[int]]:
        """The exit codes recorded after ``mark``, of the processes that exited since."""
        since = {name: codes[mark.get(name, 0) :] for name, codes in self.exits.items()}
        return {name: codes for name, codes in since.items() if codes}

    def start_replica(self, service: str, number: int = 2) -> str:
        """Another instance of ``service``, named ``service#<number>``, on a port of its own:
        the same database, streams and durable consumers, as a Deployment's further replica.
        Returns its URL; :meth:`kill` and :meth:`start_service` take its name."""
        name, port = f"{service}#{number}", free_port()
        self.stack.envs[name] = {**self.stack.envs[service], "TIREK_HTTP_PORT": str(port)}
        self.urls[name] = f"http://127.0.0.1:{port}"
        process = self.stack.spawn(name, ["-m", service, "serve"], self.stack.envs[name])
        wait_ready(self.urls[name], process)
        return self.urls[name]

    def stop_replica(self, service: str, number: int = 2) -> None:
        """Stop ``service#<number>`` as an orchestrator scales down (SIGTERM, a clean
        shutdown; nothing to do for one already killed)."""
        name = f"{service}#{number}"
        for i, (spawned, process) in enumerate(self.stack.processes):
            if spawned == name:
                process.terminate()
                process.wait(30)
                del self.stack.processes[i]
                break
        self.urls.pop(name, None)

    def wait_ready(self, service: str) -> None:
        wait_ready(self.urls[service], self.process(service))

    def wait_exit(self, service: str, timeout: float) -> int | None:
        process = self.process(service)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.exits.setdefault(service, []).append(code)
        return code

    # ----------------------------------------------------------- servers

    def kill_nats(self) -> None:
        assert self.nats_server is not None
        self.nats_server.kill()

    def start_nats(self) -> None:
        assert self.nats_server is not None
        self.nats_server.start()

    def restart_nats(self) -> None:
        """What an operator does: stop the NATS server (SIGTERM, it shuts down cleanly) and
        start it again on the same port."""
        assert self.nats_server is not None
        self.nats_server.stop()
        self.nats_server.start()

    def _postgres_processes(self) -> list[psutil.Process]:
        pid_file = self.pg.data_dir / "data" / "postmaster.pid"
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        return [postmaster, *postmaster.children(recursive=True)]

    def freeze_postgres(self) -> None:
        """SIGSTOP every PostgreSQL process: connections stay open and nothing answers, as
        when a network partition cuts the services off the database (no reset, no FIN)."""
        for process in self._postgres_processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.suspend()

    def thaw_postgres(self) -> None:
        for process in self._postgres_processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.resume()

    def freeze_nats(self) -> None:
        """SIGSTOP the NATS server: a partition between the services and the broker."""
        assert self.nats_server is not None and self.nats_server.process is not None
        os.kill(self.nats_server.process.pid, signal.SIGSTOP)

    def thaw_nats(self) -> None:
        assert self.nats_server is not None and self.nats_server.process is not None
        os.kill(self.nats_server.process.pid, signal.SIGCONT)

    def postgres_running(self) -> bool:
        try:
            return self._postgres_processes()[0].is_running()
        except (OSError, ValueError, psutil.Error):
            return False

    def stop_postgres(self) -> None:
        # immediate: no checkpoint, every connection cut, crash recovery on the next start.
        self.pg.stop(mode="immediate")

    def start_postgres(self) -> None:
        self.pg.start()

    async def connect_nats(self) -> Client:
        return await nats.connect(self.nats_url.split(","), max_reconnect_attempts=-1)

    def stop(self) -> None:
        self.stack.stop()
        if self.cluster is not None:
            self.cluster.stop()
        if self.nats_server is not None:
            self.nats_server.stop()
        self.pg.stop(mode="immediate")


def wait_ready(
    url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} was not ready within {timeout:.0f} s")


def start_platform(
    home: Path,
    *,
    namespace: str,
    services: tuple[str, ...],
    cluster: bool = False,
    pg_dir: Path | None = None,
    nats_dir: Path | None = None,
) -> Platform:
    """Servers of our own, then ``make run``'s Stack and seed against them. ``pg_dir``,
    ``nats_dir``: where PostgreSQL and the (single) NATS server keep their data (a small disk
    of their own, say)."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    pg = PostgresServer(pg_dir or home / "pg").start()
    nats_server: NatsServer | None = None
    nats_cluster: NatsCluster | None = None
    try:
        if cluster:
            nats_cluster = NatsCluster.start(home)
            nats_url = nats_cluster.url
        else:
            nats_server = NatsServer(nats_dir or home / "nats").start()
            nats_url = nats_server.url
        env = {
            "TIREK_NATS_URL": nats_url,
            "TIREK_DATABASE_URL": pg.dsn,
            "TIREK_NAMESPACE": namespace,
            "TIREK_SERVICES": ",".join(services),
            "TIREK_STREAM_REPLICAS": "3" if cluster else "1",
            "TIREK_DEVIDP_PORT": str(free_port()),
            "TIREK_LOG_LEVEL": "WARNING",
            **{f"TIREK_{name.upper()}_PORT": str(free_port()) for name in services},
        }
        stack = Stack(home / "stack")
        platform = Platform(
            home, stack, {}, Naming(namespace), nats_url, pg, nats_server, nats_cluster
        )
        # Stack and the seed read their settings from the environment, as under make run.
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            platform.urls = stack.start()
            seed_demo(stack, platform.urls)
        except BaseException:
            stack.stop()
            raise
        finally:
            os.environ.clear()
            os.environ.update(saved)
        asyncio.run(_short_ack_wait(platform))
        return platform
    except BaseException:
        if nats_cluster is not None:
            nats_cluster.stop()
        if nats_server is not None:
            nats_server.stop()
        pg.stop(mode="immediate")
        raise


async def _short_ack_wait(platform: Platform) -> None:
    nc = await platform.connect_nats()
    try:
        await ensure_streams(
            nc.jetstream(),
            platform.naming,
            replicas=3 if platform.cluster else 1,
            consumers=[replace(spec, ack_wait=ACK_WAIT) for spec in CONSUMERS],
        )
    finally:
        await nc.close()
