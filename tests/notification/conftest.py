"""Notification under test: its real database (migrated, app role), the real NATS with a per-run
namespace, the development issuer for tokens, a real SMTP server and a local HTTP server for
webhooks and the Telegram Bot API; the app in-process with a clock the tests move."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import nats
import pytest
from fastapi import FastAPI
from keycloak import KeycloakOpenID
from nats.aio.client import Client as NatsClient
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from notification.deliveries.dispatcher import Dispatcher
from notification.main import create_app
from notification.migrate import upgrade
from notification.recipients.demo import seed_demo_recipients
from notification.settings import NotificationSettings
from tests.notification.servers import HttpServer, SmtpServer
from tirek.db.provision import DatabaseUrls
from tirek.demo.consortium import DEMO_PASSWORD, TENANTS
from tirek.demo.seed import publish_tenants
from tirek.events import Envelope
from tirek.messaging.naming import Naming
from tirek.messaging.streams import NOTIFICATION_CASES, ConsumerSpec, ensure_streams
from tirek.testing.plugin import MakeDatabase

GetToken = Callable[[str], Awaitable[str]]
Auth = Callable[[str], Awaitable[dict[str, str]]]


class Clock:
    """The app's clock: real time at the start, moved forward only by the tests."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Notification:
    app: FastAPI
    client: httpx.AsyncClient
    settings: NotificationSettings
    admin_engine: AsyncEngine
    naming: Naming
    nc: NatsClient
    clock: Clock
    smtp: SmtpServer
    http: HttpServer

    @property
    def dispatcher(self) -> Dispatcher:
        dispatcher: Dispatcher = self.app.state.dispatcher
        return dispatcher

    async def publish(self, envelope: Envelope, *, msg_id: str | None = None) -> None:
        """Put an event on JetStream as its producer's outbox relay would."""
        await self.nc.jetstream().publish(
            self.naming.subject(envelope.subject_name),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": msg_id or str(envelope.id)},
        )

    async def scalar(self, sql: str, **params: object) -> object:
        async with self.admin_engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()

    async def rows(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        async with self.admin_engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(text(sql), params)).all()]

    async def count(self, table: str, where: str = "true", **params: object) -> int:
        return int(str(await self.scalar(f"SELECT count(*) FROM {table} WHERE {where}", **params)))

    async def wait_for(
        self, what: str, check: Callable[[], Awaitable[bool]], timeout: float = 20
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await check():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting until {what}")

    async def settled(self, spec: ConsumerSpec = NOTIFICATION_CASES) -> None:
        """Wait until the consumer has handled and acked every event published so far (an
        event that notifies no one leaves no row to wait for)."""
        js = self.nc.jetstream()
        stream, durable = spec.stream_name(self.naming), spec.durable(self.naming)

        async def done() -> bool:
            info = await js.consumer_info(stream, durable)
            return info.num_pending == 0 and info.num_ack_pending == 0

        await self.wait_for(f"{spec.name} has handled every event", done)

    async def planned(self, event_id: uuid.UUID, expected: int) -> None:
        """Wait until the handler has planned ``expected`` deliveries for the event."""

        async def done() -> bool:
            return await self.count("deliveries", "event_id = :e", e=event_id) >= expected

        await self.wait_for(f"{expected} deliveries are planned for event {event_id}", done)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def http_server() -> Iterator[HttpServer]:
    server = HttpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def notification_db(make_database: MakeDatabase) -> DatabaseUrls:
    return await make_database("notification")


@pytest.fixture(scope="session")
def notification_settings(
    notification_db: DatabaseUrls,
    nats_url: str,
    namespace: str,
    devidp_url: str,
    smtp_server: SmtpServer,
    http_server: HttpServer,
) -> NotificationSettings:
    return NotificationSettings(
        env="test",
        nats_url=nats_url,
        # Its own namespace: other suites publish referral events (numbered alike) on theirs.
        namespace=f"{namespace}ntf",
        db_url=notification_db.app_url,
        db_owner_url=notification_db.owner_url,
        oidc_issuer=f"{devidp_url}realms/tirek",
        oidc_audience="tirek-notification",
        db_pool_size=10,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_starttls=False,
        telegram_api_url=f"{http_server.url}/telegram",
        delivery_timeout=1.5,
        max_attempts=5,
        retry_base_seconds=10,
        retry_cap_seconds=600,
        public_url="https://tirek.example",
    )


@pytest.fixture(scope="session")
async def streams(nats_url: str, namespace: str) -> Naming:
    naming = Naming(f"{namespace}ntf")
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream(), naming)
    finally:
        await nc.close()
    return naming


@pytest.fixture(scope="session")
async def notif(
    notification_settings: NotificationSettings,
    notification_db: DatabaseUrls,
    streams: Naming,
    nats_url: str,
    pg_admin_dsn: str,
    smtp_server: SmtpServer,
    http_server: HttpServer,
) -> AsyncIterator[Notification]:
    await asyncio.to_thread(upgrade, notification_settings)
    clock = Clock()
    # The tests drive the dispatcher pass by pass (dispatch_due) with the clock they move.
    app = create_app(notification_settings, clock=clock, run_dispatcher=False)
    admin_url = make_url(pg_admin_dsn).set(
        drivername="postgresql+asyncpg", database=notification_db.name
    )
    admin_engine = create_async_engine(admin_url, pool_size=2)
    nc = await nats.connect(nats_url)
    async with app.router.lifespan_context(app):
        await publish_tenants(nats_url, streams)
        await seed_demo_recipients(app.state.sessions)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notification") as client:
            notification = Notification(
                app,
                client,
                notification_settings,
                admin_engine,
                streams,
                nc,
                clock,
                smtp_server,
                http_server,
            )

            async def named() -> bool:
                return await notification.count("tenants", "names <> '{}'::jsonb") >= len(TENANTS)

            await notification.wait_for("the demo tenants' tenant.onboarded arrived", named)
            yield notification
    await nc.close()
    await admin_engine.dispose()


@pytest.fixture(scope="session")
def token(devidp_url: str) -> GetToken:
    """``await token("akt-admin")``: an access token from the development issuer."""
    cache: dict[str, str] = {}

    async def get(username: str) -> str:
        if username not in cache:
            oidc = KeycloakOpenID(server_url=devidp_url, realm_name="tirek", client_id="tirek-web")
            response = await asyncio.to_thread(oidc.token, username, DEMO_PASSWORD)
            cache[username] = response["access_token"]
        return cache[username]

    return get


@pytest.fixture(scope="session")
def auth(token: GetToken) -> Auth:
    async def headers(username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await token(username)}"}

    return headers
