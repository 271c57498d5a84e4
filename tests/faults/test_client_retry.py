"""A client that times out and retries a registration with the same ``Idempotency-Key`` gets
the first case back, never a second one."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

from tests.faults.counters import AKT, Row, Table, service_rows
from tests.faults.load import case_body
from tests.faults.platform import Platform
from tirek.demo.seed import password_token

MARKER = date(2020, 5, 1)
CLIENTS = 20


async def _impatient_then_patient(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict[str, Any]
) -> tuple[bool, httpx.Response]:
    """One request with a 5 ms read timeout, then retries with the same key until answered."""
    timed_out = False
    try:
        first = await http.post(
            url, json=body, headers=headers, timeout=httpx.Timeout(5, read=0.005)
        )
        if first.status_code == 201:
            return False, first
    except httpx.TimeoutException:
        timed_out = True
    while True:
        response = await http.post(url, json=body, headers=headers, timeout=30)
        if response.status_code != 409:  # 409: the first attempt still holds the key
            return timed_out, response
        await asyncio.sleep(0.1)


async def test_a_registration_retried_after_a_timeout_answers_the_first_case(
    platform: Platform, report: Callable[[Table], None]
) -> None:
    rng = random.Random(5)
    async with httpx.AsyncClient() as http:
        token = await password_token(http, platform.issuer, "akt-caseworker")
        bodies = [case_body(MARKER, rng) for _ in range(CLIENTS)]
        outcomes = await asyncio.gather(
            *(
                _impatient_then_patient(
                    http,
                    f"{platform.urls['intake']}/v1/cases",
                    {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
                    body,
                )
                for body in bodies
            )
        )
    answers = [response for _, response in outcomes]
    assert [a.status_code for a in answers] == [201] * CLIENTS, [a.text for a in answers]
    timed_out = sum(1 for t, _ in outcomes if t)
    replayed = sum(1 for a in answers if a.headers.get("Idempotent-Replayed") == "true")
    rows = await service_rows(
        platform,
        "intake",
        "SELECT id::text AS id FROM cases WHERE tenant_id = $1 AND opened_on = $2",
        AKT,
        MARKER,
    )
    stored = {row["id"] for row in rows}
    answered = {a.json()["id"] for a in answers}
    table = Table(
        f"{CLIENTS} clients: a registration with a 5 ms read timeout, retried with the same "
        "Idempotency-Key",
        [
            Row(
                "cases registered (intake)",
                CLIENTS,
                len(answered),
                len(answered & stored),
                len(answered - stored),
                len(rows) - len(answered & stored),
            )
        ],
        [
            f"first attempts that timed out: {timed_out}; retries answered from the stored "
            f"first result: {replayed}"
        ],
    )
    report(table)
    assert timed_out > 0, "no first attempt timed out: the scenario tested nothing"
    assert replayed > 0, "no retry was answered from a stored first result"
    assert answered == stored and len(rows) == CLIENTS, table.markdown()
