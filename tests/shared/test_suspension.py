"""A suspended tenant's tokens are refused (tirek.auth.suspension), fed by real NATS events.

Suspensions here are published under this module's own namespace (``<namespace>sus``), so a
demo tenant suspended here is suspended for nobody else's tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import httpx
import nats
import pytest
from fastapi import FastAPI

from tirek.auth import SUSPENDED_DETAIL, CurrentPrincipal, TenantSuspensions
from tirek.demo.consortium import tenant_by_code
from tirek.events import Envelope
from tirek.events.admin import (
    TenantOffboarded,
    TenantOffboardingStarted,
    TenantReactivated,
    TenantSuspended,
)
from tirek.messaging.naming import Naming
from tirek.messaging.streams import ensure_streams
from tirek.settings import ServiceSettings
from tirek.testing.waiting import eventually as wait_for
from tirek.web import create_service_app

GetHeaders = Callable[[str], Awaitable[dict[str, str]]]

JAL = tenant_by_code("JAL").id

DEADLINE = 15.0
eventually = partial(wait_for, within=DEADLINE)


@pytest.fixture(scope="module")
async def naming(nats_url: str, namespace: str) -> Naming:
    naming = Naming(f"{namespace}sus")
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream(), naming)
    finally:
        await nc.close()
    return naming


async def publish(
    nats_url: str,
    naming: Naming,
    event: TenantSuspended | TenantReactivated | TenantOffboardingStarted | TenantOffboarded,
) -> None:
    """Publish a tenant event onto the ADMIN stream as the admin service's relay would."""
    envelope = Envelope.wrap(event, tenant=event.tenant_id, subject=str(event.tenant_id))
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(
            naming.subject(envelope.subject_name),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(envelope.id)},
        )
    finally:
        await nc.close()


@pytest.fixture
async def watch(nats_url: str, naming: Naming) -> AsyncIterator[TenantSuspensions]:
    suspensions = TenantSuspensions(nats_url=nats_url, naming=naming)
    await suspensions.start()
    yield suspensions
    await suspensions.stop()


async def test_a_suspension_event_suspends_the_tenant_and_reactivation_lifts_it(
    watch: TenantSuspensions, nats_url: str, naming: Naming
) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()

    async def ready() -> bool:
        return watch.ready

    await eventually(ready, "the watch caught up with the ADMIN stream")
    await publish(nats_url, naming, TenantSuspended(tenant_id=tenant))

    async def suspended() -> bool:
        return watch.is_suspended(tenant)

    await eventually(suspended, "the suspended tenant is known as suspended")
    assert not watch.is_suspended(other), "another tenant was suspended along with it"

    await publish(nats_url, naming, TenantReactivated(tenant_id=tenant))

    async def reactivated() -> bool:
        return not watch.is_suspended(tenant)

    await eventually(reactivated, "the reactivated tenant is no longer suspended")


async def test_an_offboarding_tenant_is_refused_but_may_export_and_an_offboarded_one_is_gone(
    watch: TenantSuspensions, nats_url: str, naming: Naming
) -> None:
    leaving, cancelled = uuid.uuid4(), uuid.uuid4()
    await publish(nats_url, naming, TenantOffboardingStarted(tenant_id=leaving))
    await publish(nats_url, naming, TenantOffboardingStarted(tenant_id=cancelled))

    async def offboarding() -> bool:
        return watch.is_offboarding(leaving) and watch.is_offboarding(cancelled)

    await eventually(offboarding, "both tenants are known as being offboarded")
    assert watch.is_suspended(leaving), "a leaving tenant's users may still act"

    await publish(nats_url, naming, TenantReactivated(tenant_id=cancelled))
    await publish(nats_url, naming, TenantOffboarded(tenant_id=leaving))
    # After the end, nothing revives it (an event replayed out of place, a mistake).
    await publish(nats_url, naming, TenantReactivated(tenant_id=leaving))
    marker = uuid.uuid4()  # applied in order: once it is seen, everything before it was
    await publish(nats_url, naming, TenantSuspended(tenant_id=marker))

    async def settled() -> bool:
        return watch.is_suspended(marker)

    await eventually(settled, "the watch applied every event")
    assert not watch.is_suspended(cancelled), "a cancelled offboarding still refuses the NGO"
    late = TenantSuspensions(nats_url=nats_url, naming=naming)
    await late.start()
    try:
        async with asyncio.timeout(DEADLINE):
            await late.wait_ready()
        for seen in (watch, late):
            assert seen.is_suspended(leaving), "an offboarded tenant was let in again"
            assert not seen.is_offboarding(leaving), "an offboarded tenant could still export"
    finally:
        await late.stop()


async def test_a_suspension_in_another_tenants_name_suspends_no_one(
    watch: TenantSuspensions, nats_url: str, naming: Naming
) -> None:
    victim, intruder = uuid.uuid4(), uuid.uuid4()

    async def ready() -> bool:
        return watch.ready

    await eventually(ready, "the watch caught up with the ADMIN stream")
    forged = Envelope.wrap(TenantSuspended(tenant_id=victim), tenant=intruder, subject="x")
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(
            naming.subject(forged.subject_name),
            forged.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(forged.id)},
        )
    finally:
        await nc.close()
    # The genuine event after it is applied: once it is, the forged one was seen and refused.
    marker = uuid.uuid4()
    await publish(nats_url, naming, TenantSuspended(tenant_id=marker))

    async def marker_seen() -> bool:
        return watch.is_suspended(marker)

    await eventually(marker_seen, "the genuine suspension after the forged one is applied")
    assert not watch.is_suspended(victim), "a forged tenant.suspended suspended an NGO"
    assert not watch.is_suspended(intruder)


async def test_a_watch_started_after_the_suspension_knows_it_once_ready(
    nats_url: str, naming: Naming
) -> None:
    tenant = uuid.uuid4()
    await publish(nats_url, naming, TenantSuspended(tenant_id=tenant))
    late = TenantSuspensions(nats_url=nats_url, naming=naming)
    await late.start()
    try:
        async with asyncio.timeout(DEADLINE):
            await late.wait_ready()
        # Ready means replayed: no polling here, it must already know.
        assert late.is_suspended(tenant), "a watch started later forgot an earlier suspension"
    finally:
        await late.stop()


async def test_a_watch_without_its_stream_is_not_ready(nats_url: str, namespace: str) -> None:
    absent = TenantSuspensions(
        nats_url=nats_url, naming=Naming(f"{namespace}nostream"), retry_seconds=0.1
    )
    await absent.start()
    try:
        await asyncio.sleep(0.3)  # give it a few attempts; it must still not claim readiness
        assert not absent.ready
        with pytest.raises(RuntimeError):
            await absent.readiness_check()
    finally:
        await absent.stop()


def service_app(nats_url: str, naming: Naming, devidp_url: str) -> FastAPI:
    settings = ServiceSettings(
        env="test",
        nats_url=nats_url,
        namespace=naming.namespace,
        oidc_issuer=f"{devidp_url}realms/tirek",
        oidc_audience="tirek-intake",
    )
    app = create_service_app(settings, title="t", version="0")

    @app.get("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
        return {"tenant": str(principal.tenant_id)}

    return app


@pytest.fixture
async def client(
    nats_url: str, naming: Naming, devidp_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = service_app(nats_url, naming, devidp_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def ready() -> bool:
                return (await client.get("/health/ready")).status_code == 200

            await eventually(ready, "the service became ready")
            yield client


async def test_every_service_app_refuses_a_suspended_tenants_token_until_reactivated(
    client: httpx.AsyncClient, auth: GetHeaders, nats_url: str, naming: Naming
) -> None:
    jal, osh = await auth("jal-caseworker"), await auth("osh-caseworker")
    assert (await client.get("/whoami", headers=jal)).status_code == 200

    await publish(nats_url, naming, TenantSuspended(tenant_id=JAL))

    async def refused() -> bool:
        return (await client.get("/whoami", headers=jal)).status_code == 403

    await eventually(refused, "the suspended NGO's caseworker is refused")
    response = await client.get("/whoami", headers=jal)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == SUSPENDED_DETAIL
    assert (await client.get("/whoami", headers=osh)).status_code == 200, (
        "another NGO's caseworker was refused"
    )

    await publish(nats_url, naming, TenantReactivated(tenant_id=JAL))

    async def restored() -> bool:
        return (await client.get("/whoami", headers=jal)).status_code == 200

    await eventually(restored, "the reactivated NGO's caseworker is let in again")


async def test_readiness_names_the_suspension_watch(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.json()["checks"]["tenant-suspensions"] == "ok"
