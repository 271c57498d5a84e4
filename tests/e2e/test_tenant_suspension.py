"""A suspended NGO's tokens are refused by intake and referral alike, through the kernel's
suspension watch fed by ``tenant.suspended`` on NATS; reactivation restores access.

The apps run in-process on their real databases and NATS, under this module's own namespace
(``<namespace>susx``): the demo tenants suspended here are suspended for no other test.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import httpx
import nats
import pytest
from fastapi import FastAPI

from intake.main import create_app as create_intake
from intake.migrate import upgrade as upgrade_intake
from intake.settings import IntakeSettings
from referral.main import create_app as create_referral
from referral.migrate import upgrade as upgrade_referral
from referral.settings import ReferralSettings
from tirek.auth import SUSPENDED_DETAIL
from tirek.demo.consortium import tenant_by_code
from tirek.events import Envelope
from tirek.events.admin import TenantReactivated, TenantSuspended
from tirek.messaging.naming import Naming
from tirek.messaging.streams import ensure_streams
from tirek.testing.plugin import MakeDatabase
from tirek.testing.waiting import eventually as wait_for

GetHeaders = Callable[[str], Awaitable[dict[str, str]]]

DEADLINE = 20.0
eventually = partial(wait_for, within=DEADLINE)
#: A read endpoint of each service that any caseworker may call.
LIST_PATH = {"intake": "/v1/cases", "referral": "/v1/referrals"}


@dataclass
class Settings:
    intake: IntakeSettings
    referral: ReferralSettings
    naming: Naming
    nats_url: str


@pytest.fixture(scope="module")
async def settings(
    make_database: MakeDatabase, nats_url: str, namespace: str, devidp_url: str
) -> Settings:
    naming = Naming(f"{namespace}susx")
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream(), naming)
    finally:
        await nc.close()
    issuer = f"{devidp_url}realms/tirek"
    master_key = base64.b64encode(secrets.token_bytes(32)).decode()
    intake_db, referral_db = await make_database("susintake"), await make_database("susreferral")
    intake = IntakeSettings(
        env="test",
        nats_url=nats_url,
        namespace=naming.namespace,
        db_url=intake_db.app_url,
        db_owner_url=intake_db.owner_url,
        oidc_issuer=issuer,
        oidc_audience="tirek-intake",
        db_pool_size=4,
        master_key=master_key,
    )
    referral = ReferralSettings(
        env="test",
        nats_url=nats_url,
        namespace=naming.namespace,
        db_url=referral_db.app_url,
        db_owner_url=referral_db.owner_url,
        oidc_issuer=issuer,
        oidc_audience="tirek-referral",
        db_pool_size=4,
        master_key=master_key,
        deadline_scan_interval=3600,
    )
    await asyncio.to_thread(upgrade_intake, intake)
    await asyncio.to_thread(upgrade_referral, referral)
    return Settings(intake, referral, naming, nats_url)


@asynccontextmanager
async def running(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (lifespan) and ready, with a client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:

            async def ready() -> bool:
                return (await client.get("/health/ready")).status_code == 200

            await eventually(ready, f"{name} became ready")
            yield client


@pytest.fixture(scope="module")
async def services(settings: Settings) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with (
        running(create_intake(settings.intake), "intake") as intake,
        running(create_referral(settings.referral, run_scanner=False), "referral") as referral,
    ):
        yield {"intake": intake, "referral": referral}


async def publish(settings: Settings, event: TenantSuspended | TenantReactivated) -> None:
    """Publish on the ADMIN stream as the admin service's outbox relay does."""
    envelope = Envelope.wrap(event, tenant=event.tenant_id, subject=str(event.tenant_id))
    nc = await nats.connect(settings.nats_url)
    try:
        await nc.jetstream().publish(
            settings.naming.subject(envelope.subject_name),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(envelope.id)},
        )
    finally:
        await nc.close()


async def status_of(client: httpx.AsyncClient, service: str, headers: dict[str, str]) -> int:
    return (await client.get(LIST_PATH[service], headers=headers)).status_code


async def test_a_suspended_ngo_is_refused_by_every_service_until_reactivated(
    services: dict[str, httpx.AsyncClient], settings: Settings, auth: GetHeaders
) -> None:
    jal, osh = await auth("jal-caseworker"), await auth("osh-caseworker")
    for name, client in services.items():
        assert await status_of(client, name, jal) == 200, f"{name} refused an active NGO"

    await publish(settings, TenantSuspended(tenant_id=tenant_by_code("JAL").id))
    for name, client in services.items():

        async def refused(client: httpx.AsyncClient = client, name: str = name) -> bool:
            return await status_of(client, name, jal) == 403

        await eventually(refused, f"{name} refuses the suspended NGO's caseworker")
        response = await client.get(LIST_PATH[name], headers=jal)
        assert response.json()["detail"] == SUSPENDED_DETAIL
        assert await status_of(client, name, osh) == 200, f"{name} refused another NGO too"

    await publish(settings, TenantReactivated(tenant_id=tenant_by_code("JAL").id))
    for name, client in services.items():

        async def restored(client: httpx.AsyncClient = client, name: str = name) -> bool:
            return await status_of(client, name, jal) == 200

        await eventually(restored, f"{name} lets the reactivated NGO's caseworker in again")


async def test_a_service_started_after_the_suspension_refuses_from_its_first_request(
    services: dict[str, httpx.AsyncClient], settings: Settings, auth: GetHeaders
) -> None:
    nuk, osh = await auth("nuk-caseworker"), await auth("osh-caseworker")
    nukus = tenant_by_code("NUK").id
    await publish(settings, TenantSuspended(tenant_id=nukus))

    async def known() -> bool:
        return await status_of(services["intake"], "intake", nuk) == 403

    await eventually(known, "the suspension reached the running intake")
    try:
        # A second referral instance, started now: its replay must include the suspension.
        late = create_referral(settings.referral, run_scanner=False, run_relay=False)
        async with running(late, "referral-late") as client:
            assert await status_of(client, "referral", nuk) == 403, (
                "a service started after the suspension let the suspended NGO in"
            )
            assert await status_of(client, "referral", osh) == 200
    finally:
        await publish(settings, TenantReactivated(tenant_id=nukus))
