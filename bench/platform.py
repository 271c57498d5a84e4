"""The platform under benchmark: started as ``make run`` starts it, in a temporary directory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import psutil

from tirek.db.provision import ensure_service_database
from tirek.demo.seed import password_token, publish_tenants
from tirek.demo.seed_referrals import publish_agreements
from tirek.localstack.servers import free_port, wait_for_port
from tirek.localstack.stack import Stack, _wait_http
from tirek.messaging.naming import Naming

SERVICES = ("intake", "referral", "notification", "reporting", "admin")


@dataclass
class Platform:
    stack: Stack
    urls: dict[str, str]
    naming: Naming
    tokens: dict[str, str] = field(default_factory=dict)
    raw: subprocess.Popen[bytes] | None = None
    raw_url: str = ""

    @classmethod
    def start(cls) -> Platform:
        home = Path(tempfile.mkdtemp(prefix="tirek-bench-"))
        home.chmod(0o755)
        os.environ.setdefault("TIREK_DEVIDP_PORT", str(free_port()))
        for name in SERVICES:
            os.environ.setdefault(f"TIREK_{name.upper()}_PORT", str(free_port()))
        os.environ.setdefault("TIREK_SERVICES", ",".join(SERVICES))
        stack = Stack(home)
        try:
            urls = stack.start()
            naming = Naming(os.environ.get("TIREK_NAMESPACE", ""))
            asyncio.run(publish_tenants(urls["nats"], naming))
            asyncio.run(publish_agreements(urls["nats"], naming))
        except BaseException:
            stack.stop()  # also on Ctrl-C while starting: leave no server behind
            raise
        return cls(stack=stack, urls=urls, naming=naming)

    def stop(self) -> None:
        if self.raw is not None:
            self.raw.terminate()
            self.raw.wait(10)
        self.stack.stop()

    # ------------------------------------------------------------------ processes

    def pid(self, service: str) -> int:
        return next(p.pid for n, p in self.stack.processes if n == service)

    def processes(self) -> dict[str, psutil.Process]:
        return {
            name: psutil.Process(p.pid)
            for name, p in self.stack.processes
            if name in SERVICES and p.poll() is None
        }

    def infrastructure(self) -> dict[str, list[psutil.Process]]:
        """PostgreSQL's processes (the postmaster and its backends) and the NATS server's, when
        the benchmark started them itself (a shared server's CPU is not the platform's)."""
        found: dict[str, list[psutil.Process]] = {}
        if self.stack.pg_server is not None:
            pid_file = self.stack.pg_server.data_dir / "data" / "postmaster.pid"
            postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
            found["postgres"] = [postmaster, *postmaster.children()]
        nats_server = self.stack.nats_server
        if nats_server is not None and nats_server.process is not None:
            found["nats"] = [psutil.Process(nats_server.process.pid)]
        return found

    def stop_service(self, service: str) -> None:
        for i, (name, process) in enumerate(self.stack.processes):
            if name == service:
                process.terminate()
                process.wait(30)
                del self.stack.processes[i]
                return

    def start_service(self, service: str) -> None:
        process = self.stack.spawn(service, ["-m", service, "serve"], self.stack.envs[service])
        _wait_http(f"{self.urls[service]}/health/ready", process=process)

    def start_raw_ceiling(self) -> str:
        db = asyncio.run(ensure_service_database(self.urls["postgres"], "bench_raw"))
        port = free_port()
        self.raw = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.raw_ceiling:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env={**os.environ, "BENCH_DSN": db.owner_dsn},
        )
        wait_for_port(port)
        self.raw_url = f"http://127.0.0.1:{port}/rows"
        return self.raw_url

    # ------------------------------------------------------------------ access

    async def token(self, username: str) -> str:
        if username not in self.tokens:
            async with httpx.AsyncClient(timeout=30) as client:
                self.tokens[username] = await password_token(
                    client, f"{self.urls['issuer']}realms/tirek", username
                )
        return self.tokens[username]

    async def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(username)}"}

    async def database(self, service: str) -> asyncpg.Connection:
        """A superuser connection to ``service``'s database (bypasses row-level security)."""
        name = f"{self.naming.namespace}_{service}" if self.naming.namespace else f"tirek_{service}"
        dsn = urlsplit(self.urls["postgres"])._replace(path=f"/{name}").geturl()
        return await asyncpg.connect(dsn)
