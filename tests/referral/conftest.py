"""Referral under test: its real database (migrated, as the application role), the real NATS,
the development issuer for tokens, and the app in-process with an injectable clock.

Intake's side of the saga is played by the tests themselves: they publish ``share.prepared``,
``share.refused`` and ``consent.withdrawn`` onto NATS as intake would (real delivery through
the referral service's durable consumers). So that an intake app started by another test
module of the same session cannot answer for them, these tests run under their own
namespace, derived from the session's (``<namespace>ref``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from keycloak import KeycloakOpenID
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from referral.main import create_app
from referral.migrate import upgrade
from referral.settings import ReferralSettings
from tirek.crypto import StaticKeyProvider, seal
from tirek.db.provision import DatabaseUrls
from tirek.demo.consortium import DEMO_PASSWORD, TENANTS, USERS, tenant_by_code
from tirek.demo.seed import publish_tenants
from tirek.demo.seed_referrals import agreement_events, publish_agreements
from tirek.events import Envelope
from tirek.events.envelope import Contract
from tirek.events.intake import SharePrepared
from tirek.messaging.naming import Naming
from tirek.messaging.streams import ensure_streams
from tirek.testing.plugin import MakeDatabase

GetToken = Callable[[str], Awaitable[str]]
Auth = Callable[[str], Awaitable[dict[str, str]]]

AKT = tenant_by_code("AKT").id
TLD = tenant_by_code("TLD").id
OSH = tenant_by_code("OSH").id
JAL = tenant_by_code("JAL").id
NUK = tenant_by_code("NUK").id

#: The master key of this test run: the tests seal packages as intake would.
MASTER_KEY = base64.b64encode(b"referral-tests-master-key-32-byt").decode()
KEYS = StaticKeyProvider(MASTER_KEY)

#: What the person consented to share with the receiver (invented).
PACKAGE = {
    "first_name": "Айгуль",
    "second_name": "Токтогулова",
    "sex": "female",
    "citizenship": "KG",
}


def user_id(username: str) -> str:
    return next(str(u.id) for u in USERS if u.username == username)


class Clock:
    """An injectable clock the tests move forward; never sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


@dataclass
class ReferralService:
    app: FastAPI
    client: httpx.AsyncClient
    settings: ReferralSettings
    db: DatabaseUrls
    #: Superuser connection to referral's database: sees every row (assertions only).
    admin_engine: AsyncEngine
    naming: Naming
    nats_url: str
    clock: Clock
    auth: Auth
    _nc: Any = field(default=None)

    async def count(self, table: str, where: str = "true", **params: object) -> int:
        async with self.admin_engine.connect() as conn:
            return int(
                (
                    await conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params)
                ).scalar_one()
            )

    async def publish(self, payload: Contract, *, tenant: uuid.UUID, subject: object) -> Envelope:
        """Publish an event onto NATS as its producing service would."""
        envelope = Envelope.wrap(payload, tenant=tenant, subject=str(subject))
        if self._nc is None:
            self._nc = await nats.connect(self.nats_url)
        await self._nc.jetstream().publish(
            self.naming.subject(envelope.subject_name),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(envelope.id)},
        )
        return envelope

    async def events(self, referral_id: object) -> list[tuple[str, dict[str, Any]]]:
        """The events about ``referral_id`` in the outbox, in the order they were written."""
        async with self.admin_engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT payload FROM outbox WHERE payload->>'subject' = :s "
                    "ORDER BY created_at, (payload->>'time')"
                ),
                {"s": str(referral_id)},
            )
            return [(p["type"], p) for (p,) in rows]

    async def stream_events(self, referral_id: object) -> list[dict[str, Any]]:
        """The events about ``referral_id`` that reached the REFERRAL stream (real delivery)."""
        if self._nc is None:
            self._nc = await nats.connect(self.nats_url)
        js = self._nc.jetstream()
        sub = await js.subscribe(self.naming.subject("tirek.referral.>"), ordered_consumer=True)
        found: list[dict[str, Any]] = []
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=0.5)
                except nats.errors.TimeoutError:
                    break
                body = json.loads(msg.data)
                if body["subject"] == str(referral_id):
                    found.append(body)
        finally:
            await sub.unsubscribe()
        return found

    async def wait_published(self, timeout: float = 15) -> None:
        """Wait until the relay has published every outbox row."""
        deadline = time.monotonic() + timeout
        while await self.count("outbox", "published_at IS NULL"):
            if time.monotonic() > deadline:
                raise AssertionError("the outbox relay did not publish every event in time")
            await asyncio.sleep(0.1)

    async def get(self, user: str, referral_id: object) -> httpx.Response:
        return await self.client.get(f"/v1/referrals/{referral_id}", headers=await self.auth(user))

    async def act(
        self, user: str, referral_id: object, action: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            f"/v1/referrals/{referral_id}/{action}",
            headers=await self.auth(user),
            **({"json": body} if body is not None else {}),
        )

    async def wait_state(
        self, referral_id: object, state: str, user: str = "akt-caseworker", timeout: float = 15
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = await self.get(user, referral_id)
            if response.status_code == 200 and response.json()["state"] == state:
                return dict(response.json())
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the referral never reached {state!r}: {response.status_code} "
                    f"{response.text[:300]}"
                )
            await asyncio.sleep(0.1)

    async def create(
        self,
        *,
        user: str = "akt-caseworker",
        receiver: uuid.UUID = OSH,
        services: list[str] | None = None,
        urgency: str = "normal",
        consent_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/referrals",
            headers=await self.auth(user),
            json={
                "case_id": str(uuid.uuid4()),
                "receiver_tenant": str(receiver),
                "services": services or ["return", "reintegration"],
                "urgency": urgency,
                "reason": "Returning home after labour exploitation in Aktobe.",
                "consent_id": str(consent_id or uuid.uuid4()),
                "fields": list(PACKAGE),
            },
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def approved(self, **kwargs: Any) -> dict[str, Any]:
        """A referral created by the sender's caseworker, submitted, approved by its manager."""
        referral = await self.create(**kwargs)
        creator = kwargs.get("user", "akt-caseworker")
        manager = creator.split("-")[0] + "-manager"
        assert (await self.act(creator, referral["id"], "submit")).status_code == 200
        approved = await self.act(manager, referral["id"], "approve")
        assert approved.status_code == 200, approved.text
        return dict(approved.json())

    async def share(self, referral: dict[str, Any], package: dict[str, Any] | None = None) -> None:
        """Play intake: publish ``share.prepared`` with the package sealed for the receiver."""
        referral_id = uuid.UUID(referral["id"])
        receiver = uuid.UUID(referral["receiver_tenant"])
        data = package or PACKAGE
        await self.publish(
            SharePrepared(
                referral_id=referral_id,
                case_id=uuid.UUID(referral["case_id"]),
                receiver_tenant=receiver,
                consent_id=uuid.UUID(referral["consent_id"]),
                fields=sorted(data),
                sealed=seal(
                    KEYS,
                    tenant=receiver,
                    purpose="share",
                    plaintext=json.dumps(data, ensure_ascii=False).encode(),
                    context=referral_id.bytes,
                ),
            ),
            tenant=uuid.UUID(referral["sender_tenant"]),
            subject=referral["case_id"],
        )

    async def sent(self, **kwargs: Any) -> dict[str, Any]:
        """A referral that reached the receiver with its share package."""
        referral = await self.approved(**kwargs)
        await self.share(referral)
        await self.wait_state(referral["id"], "sent", user=kwargs.get("user", "akt-caseworker"))
        return referral


@pytest.fixture(scope="session")
async def referral_db(make_database: MakeDatabase) -> DatabaseUrls:
    return await make_database("referral")


@pytest.fixture(scope="session")
def referral_naming(namespace: str) -> Naming:
    return Naming(f"{namespace}ref")


@pytest.fixture(scope="session")
def referral_settings(
    referral_db: DatabaseUrls, nats_url: str, referral_naming: Naming, devidp_url: str
) -> ReferralSettings:
    return ReferralSettings(
        env="test",
        nats_url=nats_url,
        namespace=referral_naming.namespace,
        db_url=referral_db.app_url,
        db_owner_url=referral_db.owner_url,
        oidc_issuer=f"{devidp_url}realms/tirek",
        oidc_audience="tirek-referral",
        db_pool_size=10,
        master_key=MASTER_KEY,
        # The tests call scan_deadlines themselves; the loop scans once at start-up only.
        deadline_scan_interval=3600,
    )


@pytest.fixture(scope="session")
async def referral_streams(nats_url: str, referral_naming: Naming) -> Naming:
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream(), referral_naming)
    finally:
        await nc.close()
    return referral_naming


@pytest.fixture(scope="session")
def token(devidp_url: str) -> GetToken:
    """``await token("akt-caseworker")``: an access token from the development issuer, obtained
    through python-keycloak exactly as a client of Keycloak would."""
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


@pytest.fixture(scope="session")
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(scope="session")
async def referral(
    referral_settings: ReferralSettings,
    referral_db: DatabaseUrls,
    referral_streams: Naming,
    nats_url: str,
    pg_admin_dsn: str,
    clock: Clock,
    auth: Auth,
) -> AsyncIterator[ReferralService]:
    await asyncio.to_thread(upgrade, referral_settings)
    app = create_app(referral_settings, clock=clock)
    admin_url = make_url(pg_admin_dsn).set(
        drivername="postgresql+asyncpg", database=referral_db.name
    )
    admin_engine = create_async_engine(admin_url, pool_size=2)
    async with app.router.lifespan_context(app):
        await publish_tenants(nats_url, referral_streams)
        await publish_agreements(nats_url, referral_streams)
        service = ReferralService(
            app=app,
            client=httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://referral"
            ),
            settings=referral_settings,
            db=referral_db,
            admin_engine=admin_engine,
            naming=referral_streams,
            nats_url=nats_url,
            clock=clock,
            auth=auth,
        )
        await _wait_for(service, "partners", len(TENANTS))
        await _wait_for(service, "sharing_agreements", len(agreement_events()))
        try:
            yield service
        finally:
            await service.client.aclose()
            if service._nc is not None:
                await service._nc.close()
    await admin_engine.dispose()


async def _wait_for(
    service: ReferralService, table: str, expected: int, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while await service.count(table) < expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"referral never received the demo events for {table}")
        await asyncio.sleep(0.1)
