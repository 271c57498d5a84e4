"""Reporting under test: its real database (migrated, as the application role), the real NATS
with a per-run namespace, the development issuer for tokens, and the app in-process.

The generated history (:mod:`tests.reporting.history`) is published onto the streams once per
session; tests read what the projections made of it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from keycloak import KeycloakOpenID
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from reporting.main import create_app
from reporting.migrate import upgrade
from reporting.settings import ReportingSettings
from tests.reporting.history import NOW, History, generate
from tirek.db.provision import DatabaseUrls
from tirek.demo.consortium import DEMO_PASSWORD, TENANTS
from tirek.demo.seed import publish_tenants
from tirek.events import Envelope
from tirek.messaging.naming import Naming
from tirek.messaging.streams import ensure_streams
from tirek.testing.plugin import MakeDatabase

Auth = Callable[[str], Awaitable[dict[str, str]]]

PROJECTION_TABLES = (
    "tenant_labels",
    "case_facts",
    "assistance_facts",
    "contact_facts",
    "referral_facts",
    "return_facts",
)


@dataclass
class Reporting:
    app: FastAPI
    client: httpx.AsyncClient
    settings: ReportingSettings
    #: Superuser connection to reporting's database: sees every row (assertions only).
    admin_engine: AsyncEngine
    naming: Naming
    history: History

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.admin_engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every projection row of the active generation, without the generation number."""
        result = {}
        async with self.admin_engine.connect() as conn:
            for table in PROJECTION_TABLES:
                rows = (
                    await conn.execute(
                        text(
                            f"SELECT * FROM {table} WHERE generation = "
                            "(SELECT active FROM projection_generations)"
                        )
                    )
                ).mappings()
                result[table] = sorted(
                    tuple(sorted((k, str(v)) for k, v in row.items() if k != "generation"))
                    for row in rows
                )
        return result


@pytest.fixture(scope="session")
async def streams(nats_url: str, namespace: str) -> Naming:
    # Its own namespace: other suites in the session publish intake and referral events.
    naming = Naming(f"{namespace}rep")
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream(), naming)
    finally:
        await nc.close()
    return naming


async def publish(nats_url: str, naming: Naming, envelopes: list[Envelope]) -> None:
    """Publish onto JetStream as the producers' outbox relays would. A copy of an event
    already published gets a fresh ``Nats-Msg-Id`` so the stream keeps it: a redelivery the
    duplicate window did not catch, which only the inbox can stop."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sent: set[uuid.UUID] = set()
        pending = []
        for envelope in envelopes:
            msg_id = str(uuid.uuid4()) if envelope.id in sent else str(envelope.id)
            sent.add(envelope.id)
            pending.append(
                await js.publish_async(
                    naming.subject(envelope.subject_name),
                    envelope.model_dump_json().encode(),
                    headers={"Nats-Msg-Id": msg_id},
                )
            )
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await nc.close()


@pytest.fixture(scope="session")
async def reporting(
    make_database: MakeDatabase,
    streams: Naming,
    nats_url: str,
    namespace: str,
    devidp_url: str,
    pg_admin_dsn: str,
) -> AsyncIterator[Reporting]:
    db: DatabaseUrls = await make_database("reporting")
    settings = ReportingSettings(
        env="test",
        nats_url=nats_url,
        namespace=f"{namespace}rep",
        db_url=db.app_url,
        db_owner_url=db.owner_url,
        oidc_issuer=f"{devidp_url}realms/tirek",
        db_pool_size=10,
    )
    await asyncio.to_thread(upgrade, settings)
    history = generate()
    app = create_app(settings, clock=lambda: NOW)
    admin_url = make_url(pg_admin_dsn).set(drivername="postgresql+asyncpg", database=db.name)
    admin_engine = create_async_engine(admin_url, pool_size=2)
    async with app.router.lifespan_context(app):
        await publish_tenants(nats_url, streams)
        await publish(nats_url, streams, history.published)
        service = Reporting(app, None, settings, admin_engine, streams, history)  # type: ignore[arg-type]
        await wait_until_projected(service, history.unique + len(TENANTS))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
            service.client = client
            yield service
    await admin_engine.dispose()


async def wait_until_projected(service: Reporting, events: int, timeout: float = 60) -> None:
    """Every distinct event has reached the inbox (each consumer records its own)."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = int(await service.scalar("SELECT count(*) FROM inbox"))
        if seen >= events:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"only {seen} of {events} events were projected in {timeout} s")


@pytest.fixture(scope="session")
def token(devidp_url: str) -> Callable[[str], Awaitable[str]]:
    cache: dict[str, str] = {}

    async def get(username: str) -> str:
        if username not in cache:
            oidc = KeycloakOpenID(server_url=devidp_url, realm_name="tirek", client_id="tirek-web")
            response = await asyncio.to_thread(oidc.token, username, DEMO_PASSWORD)
            cache[username] = response["access_token"]
        return cache[username]

    return get


@pytest.fixture(scope="session")
def auth(token: Callable[[str], Awaitable[str]]) -> Auth:
    async def headers(username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await token(username)}"}

    return headers
