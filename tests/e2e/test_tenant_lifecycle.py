"""An NGO's life on the platform, driven only through the admin API and each service's HTTP
API, with the development issuer: onboarded, it gets a caseworker who registers a case, and
appears in referral's directory and among reporting's labels; suspended, every service
refuses its tokens within a bounded delay until it is reactivated; offboarded, its
administrator first takes each service's export, then every service erases it.

All five services run in-process on their real databases, sharing one NATS namespace of this
module's own (``<namespace>life``); events travel through admin's real outbox relay onto the
ADMIN stream and the services' durable consumers.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import secrets
import string
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from admin.main import create_app as create_admin
from admin.migrate import upgrade as upgrade_admin
from admin.settings import AdminSettings
from intake.main import create_app as create_intake
from intake.migrate import upgrade as upgrade_intake
from intake.settings import IntakeSettings
from notification.main import create_app as create_notification
from notification.migrate import upgrade as upgrade_notification
from notification.settings import NotificationSettings
from referral.main import create_app as create_referral
from referral.migrate import upgrade as upgrade_referral
from referral.settings import ReferralSettings
from reporting.main import create_app as create_reporting
from reporting.migrate import upgrade as upgrade_reporting
from reporting.settings import ReportingSettings
from tests.intake.test_cases import CASE
from tests.offboarding import rows_of
from tirek.auth import SUSPENDED_DETAIL
from tirek.messaging.naming import Naming
from tirek.messaging.streams import ensure_streams
from tirek.testing.plugin import MakeDatabase
from tirek.testing.waiting import eventually as wait_for
from tirek.web.tenant_export import EXPORT_PATH

GetHeaders = Callable[[str], Awaitable[dict[str, str]]]

#: How long a change may take to reach every service (the bound the issue asks for).
DEADLINE = 20.0
eventually = partial(wait_for, within=DEADLINE)
#: A read endpoint of each service that the NGO's staff may call while it is active.
READ_PATH = {
    "intake": "/v1/cases",
    "referral": "/v1/referrals",
    "notification": "/v1/inbox",
    "reporting": "/v1/reports/summary",
}
SERVICES = ("admin", "intake", "referral", "notification", "reporting")


@dataclass
class Platform:
    clients: dict[str, httpx.AsyncClient]
    #: Superuser engines on each service's database (assertions only).
    engines: dict[str, AsyncEngine]
    issuer_url: str

    def __getitem__(self, name: str) -> httpx.AsyncClient:
        return self.clients[name]


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
async def platform(
    make_database: MakeDatabase,
    nats_url: str,
    namespace: str,
    devidp_url: str,
    pg_admin_dsn: str,
    _server_dir: Path,
) -> AsyncIterator[Platform]:
    naming = Naming(f"{namespace}life")
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream(), naming)
    finally:
        await nc.close()
    secrets_file = _server_dir / "devidp" / "client-secrets.json"
    admin_secret = str(json.loads(secrets_file.read_text(encoding="utf-8"))["tirek-admin"])
    dbs = {name: await make_database(f"life{name}") for name in SERVICES}
    master_key = base64.b64encode(secrets.token_bytes(32)).decode()

    def common(name: str) -> dict[str, Any]:
        return {
            "env": "test",
            "nats_url": nats_url,
            "namespace": naming.namespace,
            "oidc_issuer": f"{devidp_url}realms/tirek",
            "db_pool_size": 4,
            "db_url": dbs[name].app_url,
            "db_owner_url": dbs[name].owner_url,
        }

    admin = AdminSettings(**common("admin"), keycloak_client_secret=admin_secret)
    intake = IntakeSettings(**common("intake"), master_key=master_key)
    referral = ReferralSettings(
        **common("referral"), master_key=master_key, deadline_scan_interval=3600
    )
    notification = NotificationSettings(**common("notification"))
    reporting = ReportingSettings(**common("reporting"))
    for upgrade, settings in (
        (upgrade_admin, admin),
        (upgrade_intake, intake),
        (upgrade_referral, referral),
        (upgrade_notification, notification),
        (upgrade_reporting, reporting),
    ):
        await asyncio.to_thread(upgrade, settings)  # type: ignore[arg-type]
    engines = {
        name: create_async_engine(
            make_url(pg_admin_dsn).set(drivername="postgresql+asyncpg", database=db.name),
            pool_size=1,
        )
        for name, db in dbs.items()
    }
    try:
        async with (
            running(create_admin(admin), "admin") as admin_client,
            running(create_intake(intake), "intake") as intake_client,
            running(create_referral(referral, run_scanner=False), "referral") as referral_client,
            running(create_notification(notification), "notification") as notification_client,
            running(create_reporting(reporting), "reporting") as reporting_client,
        ):
            clients = {
                "admin": admin_client,
                "intake": intake_client,
                "referral": referral_client,
                "notification": notification_client,
                "reporting": reporting_client,
            }
            yield Platform(clients, engines, devidp_url)
    finally:
        for engine in engines.values():
            await engine.dispose()


@dataclass
class Onboarded:
    tenant: dict[str, Any]
    #: Authorization headers of the NGO's users created through admin, by role.
    headers: dict[str, dict[str, str]]
    usernames: dict[str, str]
    password: str


async def token_of(platform: Platform, username: str, password: str) -> dict[str, str]:
    oidc = KeycloakOpenID(server_url=platform.issuer_url, realm_name="tirek", client_id="tirek-web")
    try:
        response = await oidc.a_token(username, password)
    finally:
        await oidc.connection.aclose()
    return {"Authorization": f"Bearer {response['access_token']}"}


async def onboard(platform: Platform, auth: GetHeaders, country: str = "UZ") -> Onboarded:
    """An NGO onboarded through the admin API, with a caseworker and an administrator
    created through it in the identity provider, once intake knows the NGO."""
    code = "".join(secrets.choice(string.ascii_uppercase) for _ in range(5))
    admin_headers = await auth("platform-admin")
    created = await platform["admin"].post(
        "/v1/tenants",
        json={
            "code": code,
            "country": country,
            "region": "Samarkand",
            "names": {"ru": "Истиқбол (Самарканд)", "en": f"Istiqbol {code}"},
            "languages": ["uz", "ru"],
            "services_offered": ["reception", "legal_aid"],
            "service_areas": ["Samarkand"],
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, f"onboarding failed: {created.text}"
    tenant = created.json()
    password = secrets.token_urlsafe(12)
    headers: dict[str, dict[str, str]] = {}
    usernames: dict[str, str] = {}
    for role in ("caseworker", "tenant_admin"):
        username = f"{code.lower()}-{role.replace('_', '-')}"
        user = await platform["admin"].post(
            f"/v1/tenants/{tenant['id']}/users",
            json={"username": username, "roles": [role], "initial_password": password},
            headers=admin_headers,
        )
        assert user.status_code == 201, user.text
        headers[role] = await token_of(platform, username, password)
        usernames[role] = username

    async def registered() -> bool:
        response = await platform["intake"].post(
            "/v1/cases", json=copy.deepcopy(CASE), headers=headers["caseworker"]
        )
        return response.status_code == 201

    # Intake numbers cases with the NGO's code: it must have heard of tenant.onboarded.
    await eventually(registered, "the new NGO's caseworker registers a case")
    return Onboarded(tenant, headers, usernames, password)


async def test_an_onboarded_ngo_registers_cases_and_appears_in_the_directory_and_reports(
    platform: Platform, auth: GetHeaders
) -> None:
    ngo = await onboard(platform, auth)
    code, tenant_id = ngo.tenant["code"], ngo.tenant["id"]

    cases = await platform["intake"].get("/v1/cases", headers=ngo.headers["caseworker"])
    assert cases.status_code == 200
    assert [c["number"][:9] for c in cases.json()["items"]] == [f"UZ-{code}-"[:9]]
    caseworker = await auth("osh-caseworker")

    async def in_directory() -> bool:
        found = await platform["referral"].get(
            "/v1/directory", params={"country": "UZ"}, headers=caseworker
        )
        return found.status_code == 200 and any(
            partner["tenant_id"] == tenant_id and partner["code"] == code
            for partner in found.json()
        )

    await eventually(in_directory, "the new NGO is in referral's partner directory")
    coordinator = await auth("coordinator")

    async def labelled() -> bool:
        report = await platform["reporting"].get("/v1/reports/summary", headers=coordinator)
        return report.status_code == 200 and any(
            code in table["rows"] for table in report.json()["tables"]
        )

    await eventually(labelled, "the new NGO is a row label of reporting's consortium report")


async def statuses(platform: Platform, ngo: Onboarded) -> dict[str, int]:
    """What each service answers the NGO's staff now."""
    found = {
        name: (await platform[name].get(path, headers=ngo.headers["caseworker"])).status_code
        for name, path in READ_PATH.items()
    }
    own = await platform["admin"].get(
        f"/v1/tenants/{ngo.tenant['id']}", headers=ngo.headers["tenant_admin"]
    )
    return {**found, "admin": own.status_code}


async def test_a_suspended_ngo_is_refused_by_every_service_until_it_is_reactivated(
    platform: Platform, auth: GetHeaders
) -> None:
    ngo = await onboard(platform, auth)
    other = await onboard(platform, auth, country="KZ")
    path = f"/v1/tenants/{ngo.tenant['id']}"
    headers = await auth("platform-admin")
    assert set((await statuses(platform, ngo)).values()) == {200}

    suspended = await platform["admin"].post(f"{path}/suspend", headers=headers)
    assert suspended.status_code == 200, suspended.text

    async def refused() -> bool:
        return set((await statuses(platform, ngo)).values()) == {403}

    await eventually(refused, "every service refuses the suspended NGO's tokens")
    response = await platform["intake"].get("/v1/cases", headers=ngo.headers["caseworker"])
    assert response.json()["detail"] == SUSPENDED_DETAIL
    assert set((await statuses(platform, other)).values()) == {200}, "another NGO was refused"

    reactivated = await platform["admin"].post(f"{path}/reactivate", headers=headers)
    assert reactivated.status_code == 200, reactivated.text

    async def restored() -> bool:
        return set((await statuses(platform, ngo)).values()) == {200}

    await eventually(restored, "every service lets the reactivated NGO in again")


async def test_an_offboarded_ngo_takes_its_exports_then_every_service_erases_it(
    platform: Platform, auth: GetHeaders
) -> None:
    ngo = await onboard(platform, auth)
    tenant_id, path = ngo.tenant["id"], f"/v1/tenants/{ngo.tenant['id']}/offboarding"
    headers = await auth("platform-admin")
    started = await platform["admin"].post(path, json={"reason": "leaves"}, headers=headers)
    assert started.status_code == 200, started.text
    exports: dict[str, dict[str, Any]] = {}

    async def exported() -> bool:
        for name in READ_PATH:
            response = await platform[name].get(EXPORT_PATH, headers=ngo.headers["tenant_admin"])
            if response.status_code != 200:
                return False
            exports[name] = response.json()
        return True

    await eventually(exported, "the leaving NGO's administrator downloads every export")
    refused = await platform["intake"].get("/v1/cases", headers=ngo.headers["caseworker"])
    for_platform = await platform["intake"].get(EXPORT_PATH, headers=headers)
    assert refused.status_code == 403, "a leaving NGO's caseworker still works on cases"
    assert for_platform.status_code == 403, "the platform administrator read the NGO's cases"
    assert len(exports["intake"]["tables"]["cases"]) == 1
    assert exports["referral"]["tables"]["partners"][0]["tenant_id"] == tenant_id

    confirmed = await platform["admin"].post(
        f"{path}/confirm",
        json={"confirm_code": ngo.tenant["code"], "reason": "exports taken"},
        headers=headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["users_removed"] == 2

    for name in ("intake", "referral", "notification"):

        async def erased(name: str = name) -> bool:
            return (
                await rows_of(
                    platform.engines[name],
                    tenant_id,
                    ("tenant_id", "sender_tenant", "receiver_tenant", "from_tenant", "to_tenant"),
                    {"tenants": ("id",)},
                )
                == {}
            )

        await eventually(erased, f"{name} erased every row of the offboarded NGO")
    coordinator = await auth("coordinator")

    async def unnamed() -> bool:
        report = await platform["reporting"].get("/v1/reports/summary", headers=coordinator)
        return report.status_code == 200 and ngo.tenant["code"] not in report.text

    await eventually(unnamed, "reporting no longer names the NGO that left")
    with pytest.raises(KeycloakAuthenticationError):
        await token_of(platform, ngo.usernames["caseworker"], ngo.password)
