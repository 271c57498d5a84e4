"""/health/ready reflects the real database and broker: ready when both answer, 503 when not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tirek.settings import ServiceSettings
from tirek.testing.plugin import MakeDatabase
from tirek.web import ReadinessCheck, create_service_app, database_check, nats_check


@pytest.fixture
async def engine(make_database: MakeDatabase) -> AsyncIterator[AsyncEngine]:
    db = await make_database("health")
    engine = create_async_engine(db.app_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    yield client
    if not client.is_closed:
        await client.close()


async def get_ready(checks: dict[str, ReadinessCheck]) -> httpx.Response:
    app = create_service_app(ServiceSettings(), title="t", version="0", readiness_timeout=5)
    app.state.readiness_checks.update(checks)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/health/ready")


async def test_ready_when_database_and_broker_answer(engine: AsyncEngine, nc: NatsClient) -> None:
    response = await get_ready({"database": database_check(engine), "nats": nats_check(nc)})
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "nats": "ok"}


async def test_not_ready_when_the_database_does_not_exist(
    engine: AsyncEngine, nc: NatsClient
) -> None:
    missing = engine.url.set(database=f"{engine.url.database}_missing")
    broken = create_async_engine(missing)
    try:
        response = await get_ready({"database": database_check(broken), "nats": nats_check(nc)})
    finally:
        await broken.dispose()
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["checks"] == {"database": "failing", "nats": "ok"}
    assert "database" in body["detail"]
    # Driver errors name users and databases: none of it may reach the answer.
    assert str(missing.database) not in response.text


async def test_not_ready_once_the_broker_connection_is_closed(
    engine: AsyncEngine, nc: NatsClient
) -> None:
    await nc.close()
    response = await get_ready({"database": database_check(engine), "nats": nats_check(nc)})
    assert response.status_code == 503, response.text
    assert response.json()["checks"] == {"database": "ok", "nats": "failing"}
