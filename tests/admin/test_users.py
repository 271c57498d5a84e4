"""Users of a tenant, provisioned through the identity provider (here the development issuer,
through the same python-keycloak KeycloakAdmin code as against Keycloak)."""

from __future__ import annotations

import asyncio
import base64
import copy
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from intake.main import create_app as create_intake
from intake.migrate import upgrade as migrate_intake
from intake.settings import IntakeSettings
from tests.admin.conftest import Admin
from tests.admin.test_tenants import onboard
from tests.intake.test_cases import CASE
from tirek.auth import InvalidToken, verifier_from_settings
from tirek.demo.consortium import tenant_by_code
from tirek.messaging.naming import Naming
from tirek.messaging.streams import INTAKE_TENANTS, ensure_streams
from tirek.testing.plugin import MakeDatabase

Auth = Callable[[str], Awaitable[dict[str, str]]]


async def password_token(devidp_url: str, username: str, password: str) -> str:
    oidc = KeycloakOpenID(server_url=devidp_url, realm_name="tirek", client_id="tirek-web")
    response = await asyncio.to_thread(oidc.token, username, password)
    return str(response["access_token"])


def unique_username(role: str) -> str:
    return f"{role}-{secrets.token_hex(4)}"


async def create_user(
    admin: Admin, headers: dict[str, str], tenant_id: str, **body: Any
) -> httpx.Response:
    return await admin.client.post(f"/v1/tenants/{tenant_id}/users", json=body, headers=headers)


async def caseworker_with_password(
    admin: Admin, headers: dict[str, str], tenant_id: str, prefix: str = "cw"
) -> tuple[dict[str, Any], str, str]:
    """A new caseworker of ``tenant_id`` who can log in: the user, its name and password."""
    username, password = unique_username(prefix), secrets.token_urlsafe(12)
    created = await create_user(
        admin,
        headers,
        tenant_id,
        username=username,
        roles=["caseworker"],
        initial_password=password,
    )
    assert created.status_code == 201, created.text
    return created.json(), username, password


@pytest.fixture(scope="module")
async def intake_on_admin_events(
    admin: Admin, make_database: MakeDatabase, nats_url: str, devidp_url: str, pg_admin_dsn: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """Intake consuming this suite's admin events (namespace ``<namespace>adm``)."""
    naming: Naming = admin.naming
    await ensure_streams(admin.js, naming, consumers=[INTAKE_TENANTS])
    db = await make_database("admintake")
    settings = IntakeSettings(
        env="test",
        nats_url=nats_url,
        namespace=naming.namespace,
        db_url=db.app_url,
        db_owner_url=db.owner_url,
        oidc_issuer=f"{devidp_url}realms/tirek",
        oidc_audience="tirek-intake",
        db_pool_size=4,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    await asyncio.to_thread(migrate_intake, settings)
    engine = create_async_engine(
        make_url(pg_admin_dsn).set(drivername="postgresql+asyncpg", database=db.name)
    )
    app = create_intake(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client, engine
    await engine.dispose()


async def test_a_tenant_onboarded_through_admin_gets_a_caseworker_who_registers_a_case(
    admin: Admin,
    auth: Auth,
    devidp_url: str,
    intake_on_admin_events: tuple[httpx.AsyncClient, Any],
) -> None:
    intake, intake_engine = intake_on_admin_events
    tenant = await onboard(admin, auth, country="KZ", region="Shymkent")
    username, password = unique_username("cw"), secrets.token_urlsafe(12)

    created = await create_user(
        admin,
        await auth("platform-admin"),
        tenant["id"],
        username=username,
        first_name="Айгерим",
        roles=["caseworker"],
        initial_password=password,
    )
    assert created.status_code == 201, created.text
    assert created.json()["roles"] == ["caseworker"]

    token = await password_token(devidp_url, username, password)
    headers = {"Authorization": f"Bearer {token}"}
    # Intake learns of the tenant from tenant.onboarded; until then it cannot number cases.
    deadline = time.monotonic() + 20
    while True:
        async with intake_engine.connect() as conn:
            known = (
                await conn.execute(
                    text("SELECT count(*) FROM tenants WHERE id = :id"), {"id": tenant["id"]}
                )
            ).scalar_one()
        if known or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert known, "intake never received the onboarded tenant"
    registered = await intake.post("/v1/cases", json=copy.deepcopy(CASE), headers=headers)

    assert registered.status_code == 201, registered.text
    assert registered.json()["number"].startswith(f"KZ-{tenant['code']}-")
    listed = await admin.client.get(
        f"/v1/tenants/{tenant['id']}/users", headers=await auth("platform-admin")
    )
    assert [u["username"] for u in listed.json()] == [username]


async def test_roles_change_and_a_deactivated_user_can_no_longer_log_in(
    admin: Admin, auth: Auth, devidp_url: str
) -> None:
    tenant = await onboard(admin, auth)
    headers = await auth("platform-admin")
    user, username, password = await caseworker_with_password(admin, headers, tenant["id"], "mgr")

    changed = await admin.client.put(
        f"/v1/tenants/{tenant['id']}/users/{user['id']}/roles",
        json={"roles": ["case_manager", "tenant_admin"]},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["case_manager", "tenant_admin"]
    await password_token(devidp_url, username, password)  # still may log in

    deactivated = await admin.client.post(
        f"/v1/tenants/{tenant['id']}/users/{user['id']}/deactivate", headers=headers
    )
    assert deactivated.status_code == 200
    assert deactivated.json()["enabled"] is False
    with pytest.raises(KeycloakAuthenticationError):
        await password_token(devidp_url, username, password)


async def test_a_tenant_admin_manages_its_own_users_only(admin: Admin, auth: Auth) -> None:
    akt, osh = tenant_by_code("AKT").id, tenant_by_code("OSH").id
    headers = await auth("akt-admin")

    own = await admin.client.get(f"/v1/tenants/{akt}/users", headers=headers)
    other = await admin.client.get(f"/v1/tenants/{osh}/users", headers=headers)
    create_other = await create_user(
        admin, headers, str(osh), username=unique_username("x"), roles=["caseworker"]
    )
    osh_users = (
        await admin.client.get(f"/v1/tenants/{osh}/users", headers=await auth("platform-admin"))
    ).json()
    move = await admin.client.post(
        f"/v1/tenants/{akt}/users/{osh_users[0]['id']}/deactivate", headers=headers
    )

    assert own.status_code == 200
    assert "akt-caseworker" in [u["username"] for u in own.json()]
    assert other.status_code == 404
    assert create_other.status_code == 404
    assert move.status_code == 404, "a user of another NGO must be out of reach"
    assert all(u["enabled"] for u in osh_users)


async def test_a_taken_username_and_roles_beyond_the_tenant_are_refused(
    admin: Admin, auth: Auth
) -> None:
    tenant = await onboard(admin, auth)
    headers = await auth("platform-admin")
    taken = await create_user(
        admin, headers, tenant["id"], username="akt-caseworker", roles=["caseworker"]
    )
    platform = await create_user(
        admin, headers, tenant["id"], username=unique_username("p"), roles=["platform_admin"]
    )
    assert taken.status_code == 409, taken.text
    assert platform.status_code == 422


async def test_a_suspended_tenant_gets_no_new_users(admin: Admin, auth: Auth) -> None:
    tenant = await onboard(admin, auth)
    headers = await auth("platform-admin")
    await admin.client.post(f"/v1/tenants/{tenant['id']}/suspend", headers=headers)
    response = await create_user(
        admin, headers, tenant["id"], username=unique_username("s"), roles=["caseworker"]
    )
    assert response.status_code == 409


async def test_suspension_disables_the_tenants_organization_and_reactivation_enables_it(
    admin: Admin, auth: Auth, devidp_url: str
) -> None:
    tenant = await onboard(admin, auth)
    headers = await auth("platform-admin")
    _, username, password = await caseworker_with_password(admin, headers, tenant["id"], "cw")
    verifier = verifier_from_settings(admin.settings)

    suspended = await admin.client.post(f"/v1/tenants/{tenant['id']}/suspend", headers=headers)
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(await password_token(devidp_url, username, password))
    reactivated = await admin.client.post(f"/v1/tenants/{tenant['id']}/reactivate", headers=headers)
    principal = await verifier.verify(await password_token(devidp_url, username, password))
    await verifier.aclose()

    assert suspended.status_code == 200 and reactivated.status_code == 200
    # The disabled organization is left out of new tokens: they name no tenant.
    assert refused.value.reason == "token names no tenant"
    assert str(principal.tenant_id) == tenant["id"]
