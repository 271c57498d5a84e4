"""Admin under test: its real database (migrated, as the application role), the real NATS with
this suite's own namespace (``<namespace>adm``: other suites of the session publish on theirs),
the development issuer for tokens, and the app in-process."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from admin.main import create_app
from admin.migrate import upgrade
from admin.settings import AdminSettings
from tirek.db.provision import DatabaseUrls
from tirek.demo.consortium import TENANTS
from tirek.messaging.naming import Naming
from tirek.messaging.streams import ensure_streams
from tirek.testing.plugin import MakeDatabase


@dataclass
class Admin:
    app: FastAPI
    client: httpx.AsyncClient
    settings: AdminSettings
    #: Superuser connection to admin's database (assertions and seeding only).
    admin_engine: AsyncEngine
    naming: Naming
    nc: NatsClient

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    async def count(self, table: str, where: str = "true", **params: object) -> int:
        async with self.admin_engine.connect() as conn:
            return int(
                (
                    await conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params)
                ).scalar_one()
            )

    async def events(self, subject_id: str | uuid.UUID) -> list[dict[str, Any]]:
        """Every envelope on this run's ADMIN stream about ``subject_id``, in stream order."""
        stream = self.naming.stream("ADMIN")
        found: list[dict[str, Any]] = []
        sequence = 1
        while True:
            try:
                raw = await self.js.get_msg(stream, seq=sequence, next=True)
            except NotFoundError:
                return found
            envelope = json.loads(raw.data or b"{}")
            if envelope.get("subject") == str(subject_id):
                found.append(envelope)
            sequence = (raw.seq or sequence) + 1

    async def wait_for_event(
        self, subject_id: str | uuid.UUID, event_type: str, timeout: float = 15
    ) -> dict[str, Any]:
        """The first ``event_type`` envelope about ``subject_id``, once the relay published it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for envelope in await self.events(subject_id):
                if envelope["type"] == event_type:
                    return envelope
            await asyncio.sleep(0.1)
        raise AssertionError(f"admin never published {event_type} about {subject_id}")


@pytest.fixture(scope="session")
def admin_naming(namespace: str) -> Naming:
    return Naming(f"{namespace}adm")


@pytest.fixture(scope="session")
async def admin_db(make_database: MakeDatabase) -> DatabaseUrls:
    return await make_database("admin")


@pytest.fixture(scope="session")
def admin_client_secret(devidp_url: str, _server_dir: Path) -> str:
    """The ``tirek-admin`` client's secret at the session's development issuer (which keeps
    its client secrets in the plugin's server directory)."""
    secrets_file = _server_dir / "devidp" / "client-secrets.json"
    return str(json.loads(secrets_file.read_text(encoding="utf-8"))["tirek-admin"])


@pytest.fixture(scope="session")
def admin_settings(
    admin_db: DatabaseUrls,
    nats_url: str,
    admin_naming: Naming,
    devidp_url: str,
    admin_client_secret: str,
) -> AdminSettings:
    return AdminSettings(
        env="test",
        nats_url=nats_url,
        namespace=admin_naming.namespace,
        db_url=admin_db.app_url,
        db_owner_url=admin_db.owner_url,
        oidc_issuer=f"{devidp_url}realms/tirek",
        oidc_audience="tirek-admin",
        db_pool_size=10,
        # The identity provider is the development issuer (its admin API mirrors Keycloak's).
        keycloak_client_secret=admin_client_secret,
    )


@pytest.fixture(scope="session")
async def admin(
    admin_settings: AdminSettings,
    admin_db: DatabaseUrls,
    admin_naming: Naming,
    nats_url: str,
    pg_admin_dsn: str,
) -> AsyncIterator[Admin]:
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream(), admin_naming, consumers=())
    await asyncio.to_thread(upgrade, admin_settings)
    admin_url = make_url(pg_admin_dsn).set(drivername="postgresql+asyncpg", database=admin_db.name)
    admin_engine = create_async_engine(admin_url, pool_size=2)
    await _seed_demo_tenants(admin_engine)
    app = create_app(admin_settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
                yield Admin(app, client, admin_settings, admin_engine, admin_naming, nc)
    finally:
        await admin_engine.dispose()
        await nc.close()


async def _seed_demo_tenants(engine: AsyncEngine) -> None:
    # The demo consortium as if onboarded earlier (no events): gives the demo users' tokens a
    # tenant of their own here, with the ids the development issuer puts in them.
    async with engine.begin() as conn:
        for tenant in TENANTS:
            await conn.execute(
                text(
                    "INSERT INTO tenants (id, code, country, region, kind, names, languages, "
                    "services_offered, service_areas, contact_hours, status) VALUES (:id, :code, "
                    ":country, :region, :kind, CAST(:names AS jsonb), :languages, :services, "
                    ":areas, :hours, 'active') ON CONFLICT DO NOTHING"
                ),
                {
                    "id": tenant.id,
                    "code": tenant.code,
                    "country": tenant.country,
                    "region": tenant.region,
                    "kind": tenant.kind,
                    "names": json.dumps(tenant.name),
                    "languages": list(tenant.languages),
                    "services": list(tenant.services_offered),
                    "areas": list(tenant.service_areas),
                    "hours": tenant.contact_hours,
                },
            )
