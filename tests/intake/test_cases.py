"""Registering, reading, listing, updating and closing cases through intake's HTTP API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import nats

from tests.intake.conftest import Intake

CASE: dict[str, Any] = {
    "person": {
        "first_name": "Тахир", "second_name": "Сабиров", "name_latin": "Takhir Sabirov",
        "sex": "male", "birth_date": "1998-04-02", "citizenship": "TJ",
        "documents": [{"type": "passport", "status": "confiscated", "number": "N1234567"}],
        "phone": "+77011234567",
    },
    "categories": ["presumed_victim_of_trafficking"],
    "exploitation_forms": ["labour"],
    "opened_on": "2026-03-10",
}


async def stream_events(intake: Intake, subject: str, case_id: str, timeout: float = 10) -> list[dict[str, Any]]:
    """Every event on the INTAKE stream with ``subject`` about ``case_id``, waiting for the relay."""
    nc = await nats.connect(intake.settings.nats_url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            sub = await js.subscribe(intake.naming.subject(subject), ordered_consumer=True)
            found = []
            try:
                while True:
                    msg = await sub.next_msg(timeout=0.5)
                    body = json.loads(msg.data)
                    if body["subject"] == case_id:
                        found.append(body)
            except nats.errors.TimeoutError:
                pass
            finally:
                await sub.unsubscribe()
            if found:
                # Give a duplicate a chance to show up before answering.
                await asyncio.sleep(0.3)
                return found
        return found
    finally:
        await nc.close()


async def test_registering_a_case_commits_it_and_publishes_exactly_one_case_registered(
    intake: Intake, auth
) -> None:
    response = await intake.client.post("/v1/cases", json=CASE, headers=await auth("akt-caseworker"))
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["number"].startswith("KZ-AKT-2026-")
    assert case["status"] == "active"
    assert await intake.count("cases", "id = :id", id=uuid.UUID(case["id"])) == 1

    events = await stream_events(intake, "tirek.intake.case.registered.v1", case["id"])
    assert len(events) == 1, f"expected one case.registered, got {len(events)}"
    data = events[0]["data"]
    assert data["case_number"] == case["number"]
    assert data["age_band"] == "25-34" and data["citizenship"] == "TJ"
    text = json.dumps(events[0], ensure_ascii=False)
    for personal in ("Тахир", "Сабиров", "Sabirov", "N1234567", "+77011234567", "1998-04-02"):
        assert personal not in text, f"case.registered carries personal data: {personal}"
