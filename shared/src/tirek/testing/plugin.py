"""Pytest fixtures every Tirek test suite uses: real NATS and PostgreSQL, a fresh namespace.

Servers come from ``TIREK_NATS_URL`` / ``TIREK_DATABASE_URL`` (a superuser DSN) when set;
otherwise the plugin starts its own throw-away ``nats-server`` and PostgreSQL for the session
(the same launchers as ``make run``) and stops them at the end. Every run gets a unique
``namespace`` for streams, subjects, durables and database names, so runs sharing a server never
see each other.

Loaded by ``addopts = -p tirek.testing.plugin`` in the workspace ``pyproject.toml``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tirek.db.provision import DatabaseUrls, drop_service_database, ensure_service_database
from tirek.localstack.servers import NatsServer, PostgresServer, free_port, wait_for_port

MakeDatabase = Callable[[str], Awaitable[DatabaseUrls]]


@pytest.fixture(scope="session")
def namespace() -> str:
    """Unique per test run: prefixes streams, subjects, durables and databases."""
    return "t" + secrets.token_hex(3)


@pytest.fixture(scope="session")
def _server_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tirek-test-"))
    # PostgreSQL may run as an unprivileged user (when we are root): let it reach its data dir.
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server(_server_dir: Path) -> Iterator[NatsServer | None]:
    """The NATS server this run started, or ``None`` when ``TIREK_NATS_URL`` names one."""
    if os.environ.get("TIREK_NATS_URL"):
        yield None
        return
    server = NatsServer(_server_dir / "nats").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_url(nats_server: NatsServer | None) -> str:
    return nats_server.url if nats_server else os.environ["TIREK_NATS_URL"]


@pytest.fixture(scope="session")
def postgres_server(_server_dir: Path) -> Iterator[PostgresServer | None]:
    """The PostgreSQL this run started, or ``None`` when ``TIREK_DATABASE_URL`` names one."""
    if os.environ.get("TIREK_DATABASE_URL"):
        yield None
        return
    server = PostgresServer(_server_dir / "pg", ephemeral=True).start()
    yield server
    server.stop(mode="immediate")


@pytest.fixture(scope="session")
def pg_admin_dsn(postgres_server: PostgresServer | None) -> str:
    """Superuser libpq DSN of the test PostgreSQL."""
    if postgres_server is not None:
        return postgres_server.dsn
    return os.environ["TIREK_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="session")
async def make_database(
    pg_admin_dsn: str, namespace: str, postgres_server: PostgresServer | None
) -> AsyncIterator[MakeDatabase]:
    """``await make_database("label")``: a fresh database with owner and application roles."""
    created: list[str] = []

    async def make(label: str) -> DatabaseUrls:
        name = f"{namespace}_{label}_{len(created)}"
        created.append(name)
        return await ensure_service_database(pg_admin_dsn, name)

    yield make
    if postgres_server is None:  # a shared server: leave it as we found it
        for name in created:
            await drop_service_database(pg_admin_dsn, name)


@pytest.fixture(scope="session")
def devidp_url(_server_dir: Path) -> Iterator[str]:
    """A development issuer (``python -m tirek.devidp``) for the session: its realm URL base.

    Returns the server URL (``http://127.0.0.1:PORT/``) as python-keycloak expects it; the
    issuer is ``{url}realms/tirek``.
    """
    port = free_port()
    data_dir = _server_dir / "devidp"
    log = open(_server_dir / "devidp.log", "ab")
    env = {**os.environ, "TIREK_ENV": "test"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tirek.devidp",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


GetToken = Callable[[str], Awaitable[str]]
GetHeaders = Callable[[str], Awaitable[dict[str, str]]]


@pytest.fixture(scope="session")
def token(devidp_url: str) -> GetToken:
    """``await token("akt-caseworker")``: a demo user's access token from the development
    issuer, obtained through python-keycloak exactly as a client of Keycloak would."""
    from keycloak import KeycloakOpenID

    from tirek.demo.consortium import DEMO_PASSWORD

    cache: dict[str, str] = {}

    async def get(username: str) -> str:
        if username not in cache:
            oidc = KeycloakOpenID(server_url=devidp_url, realm_name="tirek", client_id="tirek-web")
            response = await asyncio.to_thread(oidc.token, username, DEMO_PASSWORD)
            cache[username] = str(response["access_token"])
        return cache[username]

    return get


@pytest.fixture(scope="session")
def auth(token: GetToken) -> GetHeaders:
    """``await auth("osh-manager")``: Authorization headers for a demo user."""

    async def headers(username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await token(username)}"}

    return headers
