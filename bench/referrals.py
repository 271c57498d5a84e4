"""Complete cross-border referrals per second, end to end through every service involved.

One flow: AKT registers a case and records the person's consent to a referral to OSH, creates
the referral, submits it, a case manager approves it (four eyes), intake shares the sealed
package and referral marks it sent, OSH accepts it, and intake opens the linked case in OSH.
``concurrency`` flows run at a time; a flow ends when the linked case exists (checked in
intake's database every 50 ms).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.common import Figure
from bench.platform import Platform
from tirek.demo.consortium import USERS, tenant_by_code

SHARED = ["first_name", "second_name", "sex", "citizenship", "documents"]
PERSON = {
    "first_name": "Айгуль",
    "second_name": "Токтогулова",
    "name_latin": "Aigul Toktogulova",
    "sex": "female",
    "citizenship": "KG",
    "documents": [{"type": "passport", "status": "lost", "issuing_country": "KG"}],
}
_POLL = 0.05


class _Api:
    def __init__(self, platform: Platform, client: httpx.AsyncClient) -> None:
        self.platform = platform
        self.client = client

    async def ok(self, user: str, method: str, url: str, body: Any = None) -> dict[str, Any]:
        headers = await self.platform.auth(user)
        response = await self.client.request(method, url, json=body, headers=headers)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:300]}")
        return dict(response.json()) if response.content else {}


async def _flow(api: _Api, intake_db: Any) -> None:
    intake, referral = api.platform.urls["intake"], api.platform.urls["referral"]
    osh = str(tenant_by_code("OSH").id)
    case = await api.ok(
        "akt-caseworker",
        "POST",
        f"{intake}/v1/cases",
        {"person": PERSON, "categories": ["identified_victim_of_trafficking"]},
    )
    consent = await api.ok(
        "akt-caseworker",
        "POST",
        f"{intake}/v1/cases/{case['id']}/consents",
        {
            "purpose": "referral",
            "scope": SHARED,
            "recipient_tenant": osh,
            "method": "written",
            "given_at": datetime.now(UTC).isoformat(),
        },
    )
    created = await api.ok(
        "akt-caseworker",
        "POST",
        f"{referral}/v1/referrals",
        {
            "case_id": case["id"],
            "receiver_tenant": osh,
            "services": ["return", "reintegration"],
            "urgency": "urgent",
            "reason": "Return home to Osh.",
            "consent_id": consent["id"],
            "fields": SHARED,
        },
    )
    rid = created["id"]
    await api.ok("akt-caseworker", "POST", f"{referral}/v1/referrals/{rid}/submit")
    await api.ok("akt-manager", "POST", f"{referral}/v1/referrals/{rid}/approve")
    # Polling another process's state: nothing here to wait on but the answer.
    while (await api.ok("akt-manager", "GET", f"{referral}/v1/referrals/{rid}"))["state"] != "sent":  # noqa: ASYNC110
        await asyncio.sleep(_POLL)
    osh_caseworker = next(u for u in USERS if u.username == "osh-caseworker")
    await api.ok(
        "osh-caseworker",
        "POST",
        f"{referral}/v1/referrals/{rid}/accept",
        {"responsible_user": str(osh_caseworker.id)},
    )
    linked = "SELECT EXISTS (SELECT 1 FROM cases WHERE origin_referral_id = $1)"
    while not await intake_db.fetchval(linked, rid):  # noqa: ASYNC110
        await asyncio.sleep(_POLL)


async def run(platform: Platform, *, count: int, concurrency: int) -> Figure:
    pool_db = [await platform.database("intake") for _ in range(concurrency)]
    durations: list[float] = []
    remaining = iter(range(count))
    limits = httpx.Limits(max_connections=4 * concurrency)
    try:
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            api = _Api(platform, client)
            for attempt in range(100):  # warm-up; also waits for referral to know the agreement
                try:
                    await _flow(api, pool_db[0])
                    break
                except RuntimeError:
                    if attempt == 99:
                        raise
                    await asyncio.sleep(0.3)

            async def worker(db: Any) -> None:
                for _ in remaining:
                    started = time.perf_counter()
                    await _flow(api, db)
                    durations.append((time.perf_counter() - started) * 1000)

            started = time.perf_counter()
            await asyncio.gather(*(worker(db) for db in pool_db))
            seconds = time.perf_counter() - started
    finally:
        for db in pool_db:
            await db.close()
    return Figure(
        "referral flow, create → linked case",
        count / seconds,
        "referrals/s",
        durations,
        f"{count} flows, {concurrency} at a time; latency = one whole flow (10 HTTP calls)",
    )
