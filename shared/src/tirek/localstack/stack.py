"""``make run``: the whole platform on one machine, in the foreground, until Ctrl-C.

Starts (or reuses, when ``TIREK_NATS_URL`` / ``TIREK_DATABASE_URL`` name running servers)
NATS and PostgreSQL with their data under ``.tirek/``, declares the streams, creates and
migrates each service's database, starts the development issuer and every service, seeds the
demo consortium and prints where everything is.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats

from tirek.db.provision import DatabaseUrls, ensure_service_database
from tirek.devidp.clients import load_client_secrets
from tirek.localstack.servers import NatsServer, PostgresServer, free_port, port_is_free
from tirek.messaging.naming import Naming
from tirek.messaging.streams import ensure_streams
from tirek.settings import nats_servers


@dataclass(frozen=True)
class ServiceSpec:
    """A deployable service as the local stack runs it (``python -m NAME serve``)."""

    name: str
    default_port: int

    def database(self, namespace: str = "") -> str:
        """``tirek_intake``; under a namespace (a test run) ``<namespace>_intake``."""
        return f"{namespace}_{self.name}" if namespace else f"tirek_{self.name}"


#: Every service, in start order. ``make run`` starts those that are installed.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("intake", 8001),
    ServiceSpec("referral", 8002),
    ServiceSpec("notification", 8003),
    ServiceSpec("reporting", 8004),
    ServiceSpec("admin", 8005),
)


def installed_services() -> tuple[ServiceSpec, ...]:
    """The services to start: those installed, narrowed by ``TIREK_SERVICES`` (comma list)."""
    wanted = {n.strip() for n in os.environ.get("TIREK_SERVICES", "").split(",") if n.strip()}
    return tuple(s for s in SERVICES if (not wanted or s.name in wanted) and _runnable(s.name))


def _runnable(package: str) -> bool:
    try:
        return importlib.util.find_spec(f"{package}.__main__") is not None
    except ModuleNotFoundError:
        return False


DEVIDP_PORT = 8080


def _port(variable: str, default: int) -> int:
    """A configured port, else the default when free, else any free one."""
    if os.environ.get(variable):
        return int(os.environ[variable])
    return default if port_is_free(default) else free_port()


def _wait_http(
    url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")


class Stack:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.nats_server: NatsServer | None = None
        self.pg_server: PostgresServer | None = None
        self.urls: dict[str, str] = {}
        self.envs: dict[str, dict[str, str]] = {}

    # ----------------------------------------------------------------- servers

    def start_servers(self) -> tuple[str, str]:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)
        ports_file = self.home / "ports.json"
        ports = json.loads(ports_file.read_text()) if ports_file.exists() else {}
        nats_url = os.environ.get("TIREK_NATS_URL")
        if not nats_url:
            port = ports.get("nats") if ports.get("nats") and port_is_free(ports["nats"]) else 0
            self.nats_server = NatsServer(
                self.home / "nats", port=port or _port("TIREK_NATS_PORT", 4222)
            ).start()
            nats_url = self.nats_server.url
            ports["nats"] = self.nats_server.port
        admin_dsn = os.environ.get("TIREK_DATABASE_URL")
        if not admin_dsn:
            port = ports.get("pg") if ports.get("pg") and port_is_free(ports["pg"]) else 0
            self.pg_server = PostgresServer(
                self.home / "pg", port=port or _port("TIREK_PG_PORT", 5432)
            ).start()
            admin_dsn = self.pg_server.dsn
            ports["pg"] = self.pg_server.port
        ports_file.write_text(json.dumps(ports))
        return nats_url, admin_dsn.replace("postgresql+asyncpg://", "postgresql://", 1)

    # ----------------------------------------------------------------- processes

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log_dir = self.home / "logs"
        log_dir.mkdir(exist_ok=True)
        with open(log_dir / f"{name}.log", "ab") as out:
            process = subprocess.Popen(
                [sys.executable, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
            )
        self.processes.append((name, process))
        return process

    def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in reversed(self.processes):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.nats_server:
            self.nats_server.stop()
        if self.pg_server:
            self.pg_server.stop()

    # ----------------------------------------------------------------- the platform

    def start(self) -> dict[str, str]:
        nats_url, admin_dsn = self.start_servers()
        asyncio.run(_declare_streams(nats_url))
        idp_port = _port("TIREK_DEVIDP_PORT", DEVIDP_PORT)
        issuer_base = f"http://127.0.0.1:{idp_port}/"
        idp = self.spawn(
            "devidp",
            [
                "-m",
                "tirek.devidp",
                "--host",
                "127.0.0.1",
                "--port",
                str(idp_port),
                "--data-dir",
                str(self.home / "devidp"),
            ],
            {},
        )
        self.urls["issuer"] = issuer_base
        for service in installed_services():
            namespace = os.environ.get("TIREK_NAMESPACE", "")
            db = asyncio.run(ensure_service_database(admin_dsn, service.database(namespace)))
            env = self.service_env(service, db, nats_url, issuer_base)
            self.save_env(service.name, env)
            migrate = subprocess.run(
                [sys.executable, "-m", service.name, "migrate"],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
            )
            if migrate.returncode != 0:
                raise RuntimeError(f"{service.name} migrations failed:\n{migrate.stderr[-3000:]}")
            port = int(env["TIREK_HTTP_PORT"])
            process = self.spawn(service.name, ["-m", service.name, "serve"], env)
            self.urls[service.name] = f"http://127.0.0.1:{port}"
            self.envs[service.name] = env
            _wait_http(f"http://127.0.0.1:{port}/health/ready", process=process)
        _wait_http(f"{issuer_base}realms/tirek/.well-known/openid-configuration", process=idp)
        self.urls["nats"] = nats_url
        self.urls["postgres"] = admin_dsn
        return self.urls

    def save_env(self, service: str, env: dict[str, str]) -> None:
        """Keep a service's environment (0600: it holds database passwords) so that its
        commands can be run beside the running platform (``python -m tirek.localstack exec``)."""
        path = self.home / "env" / f"{service}.json"
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(env, out)

    def run_command(self, service: str, *args: str) -> None:
        """``python -m SERVICE ARGS`` with the service's environment (e.g. ``seed-demo``)."""
        done = subprocess.run(
            [sys.executable, "-m", service, *args],
            env={**os.environ, **self.envs[service]},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{service} {' '.join(args)} failed:\n{done.stderr[-3000:]}")

    def service_env(
        self, service: ServiceSpec, db: DatabaseUrls, nats_url: str, issuer_base: str
    ) -> dict[str, str]:
        env = self._service_env(service, db, nats_url, issuer_base)
        if service.name == "admin" and not os.environ.get("TIREK_KEYCLOAK_CLIENT_SECRET"):
            # Admin manages users through the development issuer's admin API as its own
            # confidential client; the issuer reads the same file (created here if new).
            env["TIREK_KEYCLOAK_CLIENT_SECRET"] = load_client_secrets(self.home / "devidp")[
                "tirek-admin"
            ]
        return env

    def _service_env(
        self, service: ServiceSpec, db: DatabaseUrls, nats_url: str, issuer_base: str
    ) -> dict[str, str]:
        return {
            "TIREK_ENV": os.environ.get("TIREK_ENV", "development"),
            "TIREK_SERVICE_NAME": service.name,
            "TIREK_HTTP_PORT": str(
                _port(f"TIREK_{service.name.upper()}_PORT", service.default_port)
            ),
            "TIREK_NATS_URL": nats_url,
            "TIREK_DB_URL": db.app_url,
            "TIREK_DB_OWNER_URL": db.owner_url,
            "TIREK_OIDC_ISSUER": f"{issuer_base}realms/tirek",
            "TIREK_OIDC_AUDIENCE": f"tirek-{service.name}",
            "TIREK_NAMESPACE": os.environ.get("TIREK_NAMESPACE", ""),
            # One key for the whole local platform: intake seals share packages that referral
            # opens (containers pass TIREK_MASTER_KEY instead).
            "TIREK_MASTER_KEY_FILE": str(self.home / "keys" / "master.key"),
        }


async def _declare_streams(nats_url: str) -> None:
    nc = await nats.connect(nats_servers(nats_url))
    try:
        # R1 on one server; TIREK_STREAM_REPLICAS=3 when TIREK_NATS_URL names a 3-node cluster.
        await ensure_streams(
            nc.jetstream(),
            Naming(os.environ.get("TIREK_NAMESPACE", "")),
            replicas=int(os.environ.get("TIREK_STREAM_REPLICAS", "1")),
        )
    finally:
        await nc.close()
