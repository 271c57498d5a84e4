"""A tenant onboarded through the admin API reaches the other services: it appears in
referral's partner directory and among reporting's NGO labels.

Admin, referral and reporting run in-process on their real databases, sharing one NATS
namespace of this module's own (``<namespace>onb``); the event travels through admin's real
outbox relay onto the ADMIN stream and the services' durable consumers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI

from admin.main import create_app as create_admin
from admin.migrate import upgrade as upgrade_admin
from admin.settings import AdminSettings
from referral.main import create_app as create_referral
from referral.migrate import upgrade as upgrade_referral
from referral.settings import ReferralSettings
from reporting.main import create_app as create_reporting
from reporting.migrate import upgrade as upgrade_reporting
from reporting.settings import ReportingSettings
from tirek.messaging.naming import Naming
from tirek.messaging.streams import ensure_streams
from tirek.testing.plugin import MakeDatabase

GetHeaders = Callable[[str], Awaitable[dict[str, str]]]

DEADLINE = 20.0


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {DEADLINE} s: {what}")


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
    _server_dir: Path,
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    naming = Naming(f"{namespace}onb")
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream(), naming)
    finally:
        await nc.close()
    issuer = f"{devidp_url}realms/tirek"
    secrets_file = _server_dir / "devidp" / "client-secrets.json"
    admin_secret = str(json.loads(secrets_file.read_text(encoding="utf-8"))["tirek-admin"])
    dbs = {name: await make_database(f"onb{name}") for name in ("admin", "referral", "reporting")}
    common: dict[str, Any] = {
        "env": "test",
        "nats_url": nats_url,
        "namespace": naming.namespace,
        "oidc_issuer": issuer,
        "db_pool_size": 2,
    }
    admin = AdminSettings(
        **common,
        db_url=dbs["admin"].app_url,
        db_owner_url=dbs["admin"].owner_url,
        keycloak_client_secret=admin_secret,
    )
    referral = ReferralSettings(
        **common,
        db_url=dbs["referral"].app_url,
        db_owner_url=dbs["referral"].owner_url,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        deadline_scan_interval=3600,
    )
    reporting = ReportingSettings(
        **common, db_url=dbs["reporting"].app_url, db_owner_url=dbs["reporting"].owner_url
    )
    await asyncio.to_thread(upgrade_admin, admin)
    await asyncio.to_thread(upgrade_referral, referral)
    await asyncio.to_thread(upgrade_reporting, reporting)
    async with (
        running(create_admin(admin), "admin") as admin_client,
        running(create_referral(referral, run_scanner=False), "referral") as referral_client,
        running(create_reporting(reporting), "reporting") as reporting_client,
    ):
        yield {"admin": admin_client, "referral": referral_client, "reporting": reporting_client}


async def test_an_onboarded_ngo_appears_in_the_directory_and_in_reporting_labels(
    platform: dict[str, httpx.AsyncClient], auth: GetHeaders
) -> None:
    code = "".join(secrets.choice(string.ascii_uppercase) for _ in range(5))
    response = await platform["admin"].post(
        "/v1/tenants",
        json={
            "code": code,
            "country": "UZ",
            "region": "Samarkand",
            "names": {"ru": "Истиқбол (Самарканд)", "en": "Istiqbol (Samarkand)"},
            "languages": ["uz", "ru"],
            "services_offered": ["reception", "legal_aid"],
            "service_areas": ["Samarkand"],
        },
        headers=await auth("platform-admin"),
    )
    assert response.status_code == 201, f"onboarding failed: {response.text}"
    tenant_id = response.json()["id"]

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
