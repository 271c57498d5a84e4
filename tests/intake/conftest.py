"""Intake under test: its real database (migrated, as the application role), the real NATS
with a per-run namespace, the development issuer for tokens, and the app in-process."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import nats
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from intake.main import create_app
from intake.migrate import upgrade
from intake.settings import IntakeSettings
from tirek.db.provision import DatabaseUrls
from tirek.demo.consortium import TENANTS
from tirek.demo.seed import publish_tenants
from tirek.messaging.naming import Naming
from tirek.messaging.streams import ensure_streams
from tirek.testing.plugin import MakeDatabase


@dataclass
class Intake:
    app: FastAPI
    client: httpx.AsyncClient
    settings: IntakeSettings
    db: DatabaseUrls
    #: Superuser connection to intake's database: sees every tenant's rows (assertions only).
    admin_engine: AsyncEngine
    naming: Naming

    async def count(self, table: str, where: str = "true", **params: object) -> int:
        async with self.admin_engine.connect() as conn:
            return int(
                (
                    await conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params)
                ).scalar_one()
            )


@pytest.fixture(scope="session")
async def intake_db(make_database: MakeDatabase) -> DatabaseUrls:
    return await make_database("intake")


@pytest.fixture(scope="session")
def intake_settings(
    intake_db: DatabaseUrls, nats_url: str, namespace: str, devidp_url: str
) -> IntakeSettings:
    return IntakeSettings(
        env="test",
        nats_url=nats_url,
        namespace=namespace,
        db_url=intake_db.app_url,
        db_owner_url=intake_db.owner_url,
        oidc_issuer=f"{devidp_url}realms/tirek",
        oidc_audience="tirek-intake",
        db_pool_size=10,
        # Share packages are sealed with it (tirek.crypto); never the local key file in tests.
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )


@pytest.fixture(scope="session")
async def streams(nats_url: str, namespace: str) -> Naming:
    naming = Naming(namespace)
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream(), naming)
    finally:
        await nc.close()
    return naming


@pytest.fixture(scope="session")
async def intake(
    intake_settings: IntakeSettings,
    intake_db: DatabaseUrls,
    streams: Naming,
    nats_url: str,
    pg_admin_dsn: str,
) -> AsyncIterator[Intake]:
    await asyncio.to_thread(upgrade, intake_settings)
    app = create_app(intake_settings, run_retention=False)
    admin_url = make_url(pg_admin_dsn).set(drivername="postgresql+asyncpg", database=intake_db.name)
    admin_engine = create_async_engine(admin_url, pool_size=2)
    async with app.router.lifespan_context(app):
        await publish_tenants(nats_url, streams)
        await _wait_for_tenants(admin_engine, len(TENANTS))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield Intake(app, client, intake_settings, intake_db, admin_engine, streams)
    await admin_engine.dispose()


async def _wait_for_tenants(engine: AsyncEngine, expected: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            if (await conn.execute(text("SELECT count(*) FROM tenants"))).scalar_one() >= expected:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("intake never received the demo tenants' tenant.onboarded events")
