"""``Idempotency-Key`` on intake's POSTs: a retry answers the first result, never a second effect."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.intake.conftest import Intake
from tests.intake.test_assistance_consents_contacts import CONSENT
from tests.intake.test_cases import CASE, Auth, outbox_events, register
from tirek.db import UnitOfWork, session_factory
from tirek.db.idempotency import purge_expired_keys


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_a_retried_registration_answers_the_first_case_and_registers_one(
    intake: Intake, auth: Auth
) -> None:
    headers = {**await auth("akt-caseworker"), **_key()}
    first = await intake.client.post("/v1/cases", json=CASE, headers=headers)
    assert first.status_code == 201, first.text
    retry = await intake.client.post("/v1/cases", json=CASE, headers=headers)

    assert retry.status_code == 201, retry.text
    assert retry.json() == first.json(), "the retry did not answer the first case"
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    case_id = uuid.UUID(first.json()["id"])
    persons = await intake.count(
        "cases c JOIN persons p ON p.id = c.person_id", "c.id = :id", id=case_id
    )
    assert persons == 1
    number = first.json()["number"]
    assert await intake.count("cases", "number = :n", n=number) == 1
    assert await outbox_events(intake, "case.registered", str(case_id)) == 1


async def test_the_same_key_with_another_body_is_refused_and_changes_nothing(
    intake: Intake, auth: Auth
) -> None:
    headers = {**await auth("akt-caseworker"), **_key()}
    first = await intake.client.post("/v1/cases", json=CASE, headers=headers)
    assert first.status_code == 201, first.text
    cases_before = await intake.count("cases")

    other = copy.deepcopy(CASE)
    other["person"]["first_name"] = "Тимур"
    reused = await intake.client.post("/v1/cases", json=other, headers=headers)
    assert reused.status_code == 422, reused.text
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert reused.json()["type"].endswith("/idempotency-key-reused")
    assert "Тимур" not in reused.text
    contacts_before = await intake.count("anonymous_contacts")
    elsewhere = await intake.client.post(
        "/v1/contacts",
        json={"received_on": "2026-03-12", "topic": "labour_rights"},
        headers=headers,
    )
    assert elsewhere.status_code == 422, "a key reused on another path was accepted"
    assert await intake.count("cases") == cases_before
    assert await intake.count("anonymous_contacts") == contacts_before


async def test_keys_belong_to_their_user_another_user_with_the_same_key_acts(
    intake: Intake, auth: Auth
) -> None:
    key = _key()
    akt = await intake.client.post(
        "/v1/cases", json=CASE, headers={**await auth("akt-caseworker"), **key}
    )
    osh = await intake.client.post(
        "/v1/cases", json=CASE, headers={**await auth("osh-caseworker"), **key}
    )
    assert (akt.status_code, osh.status_code) == (201, 201), osh.text
    assert akt.json()["id"] != osh.json()["id"]
    assert "Idempotent-Replayed" not in osh.headers, "Osh got Aktobe's stored answer"


async def test_concurrent_requests_with_one_key_register_one_case(
    intake: Intake, auth: Auth
) -> None:
    headers = {**await auth("akt-caseworker"), **_key()}
    answers = await asyncio.gather(
        *(intake.client.post("/v1/cases", json=CASE, headers=headers) for _ in range(4))
    )
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == 1, f"one key registered {len(ids)} cases"
    assert sum(1 for a in answers if a.headers.get("Idempotent-Replayed") == "true") == 3
    assert await outbox_events(intake, "case.registered", ids.pop()) == 1


async def test_a_refused_request_stores_nothing_and_its_key_can_act_later(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth)
    headers = {**await auth("akt-caseworker"), **_key()}
    path = f"/v1/cases/{case['id']}/assistance"
    too_early = {"type": "legal_aid", "mode": "office", "provided_on": "2026-03-09"}
    refused = await intake.client.post(path, json=too_early, headers=headers)
    assert refused.status_code == 422, refused.text
    assert await intake.count("idempotency_keys", "key = :k", k=headers["Idempotency-Key"]) == 0

    fixed = await intake.client.post(
        path, json={**too_early, "provided_on": "2026-03-11"}, headers=headers
    )
    assert fixed.status_code == 201, fixed.text


async def test_the_stored_answer_is_sealed_not_a_plaintext_copy_of_the_person(
    intake: Intake, auth: Auth
) -> None:
    headers = {**await auth("akt-caseworker"), **_key()}
    first = await intake.client.post("/v1/cases", json=CASE, headers=headers)
    assert first.status_code == 201, first.text
    async with intake.admin_engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status_code, response FROM idempotency_keys WHERE key = :k"),
                {"k": headers["Idempotency-Key"]},
            )
        ).one()
    assert row.status_code == 201
    for personal in ("Тахир", "Sabirov", "N1234567", "+77011234567"):
        assert personal not in row.response, f"the stored answer shows {personal}"


async def test_an_expired_key_acts_again_and_the_purge_removes_it(
    intake: Intake, auth: Auth
) -> None:
    headers = {**await auth("akt-caseworker"), **_key()}
    first = await intake.client.post("/v1/cases", json=CASE, headers=headers)
    async with intake.admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE idempotency_keys SET expires_at = now() - interval '1 s' WHERE key = :k"),
            {"k": headers["Idempotency-Key"]},
        )
    again = await intake.client.post("/v1/cases", json=CASE, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["id"] != first.json()["id"], "an expired key still answered"

    async with intake.admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE idempotency_keys SET expires_at = now() - interval '1 s' WHERE key = :k"),
            {"k": headers["Idempotency-Key"]},
        )
    live = await intake.count("idempotency_keys", "expires_at > now()")
    # The purge runs as the application role, without a tenant (row-level security applies).
    async with UnitOfWork(session_factory(intake.app.state.engine), None) as session:
        purged = await purge_expired_keys(session)
    assert purged >= 1
    assert await intake.count("idempotency_keys", "key = :k", k=headers["Idempotency-Key"]) == 0
    assert await intake.count("idempotency_keys", "expires_at > now()") == live


@pytest.mark.parametrize("raw", ["", " ", "x" * 256, "ключ", "a b"])
async def test_a_malformed_key_is_refused_before_anything_happens(
    intake: Intake, auth: Auth, raw: str
) -> None:
    before = await intake.count("cases")
    headers = {**await auth("akt-caseworker"), "Idempotency-Key": raw.encode()}
    response = await intake.client.post("/v1/cases", json=CASE, headers=headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await intake.count("cases") == before


async def _one_of_each(intake: Intake, auth: Auth) -> list[tuple[str, dict[str, Any], str]]:
    """(path, body, event type) of every intake POST that changes something."""
    case = await register(intake, auth)
    child = await register(
        intake, auth, person={"first_name": "Малика", "sex": "female", "estimated_age": 6}
    )
    headers = await auth("akt-caseworker")
    consent = (
        await intake.client.post(f"/v1/cases/{case['id']}/consents", json=CONSENT, headers=headers)
    ).json()
    return [
        (
            f"/v1/cases/{case['id']}/assistance",
            {"type": "legal_aid", "mode": "office", "provided_on": "2026-03-12"},
            "assistance.recorded",
        ),
        (f"/v1/cases/{case['id']}/consents", CONSENT, "consent.given"),
        (
            f"/v1/cases/{case['id']}/consents/{consent['id']}/withdraw",
            {"reason": "no"},
            "consent.withdrawn",
        ),
        (
            "/v1/contacts",
            {
                "received_on": "2026-03-12",
                "mode": "hotline",
                "topic": "labour_rights",
                "country": "KZ",
            },
            "contact.recorded",
        ),
        (
            f"/v1/persons/{case['person']['id']}/family-links",
            {"related_person_id": child["person"]["id"], "relation": "child"},
            "",
        ),
    ]


async def test_every_intake_post_answers_a_retry_with_its_first_result(
    intake: Intake, auth: Auth
) -> None:
    headers = await auth("akt-caseworker")
    for path, body, event_type in await _one_of_each(intake, auth):
        keyed = {**headers, **_key()}
        outbox_before = await intake.count("outbox", "payload->>'type' = :t", t=event_type)
        first = await intake.client.post(path, json=body, headers=keyed)
        assert first.status_code in (200, 201), f"{path}: {first.text}"
        retry = await intake.client.post(path, json=body, headers=keyed)
        assert (retry.status_code, retry.json()) == (first.status_code, first.json()), path
        assert retry.headers.get("Idempotent-Replayed") == "true", path
        if event_type:
            added = await intake.count("outbox", "payload->>'type' = :t", t=event_type)
            assert added == outbox_before + 1, f"{path}: {added - outbox_before} events"


async def test_the_api_documents_the_header_on_every_post(intake: Intake) -> None:
    schema = (await intake.client.get("/openapi.json")).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", [])}
            if method in ("post", "put", "patch", "delete"):
                assert "Idempotency-Key" in names, f"{method.upper()} {path}"
            else:
                assert "Idempotency-Key" not in names, f"{method.upper()} {path}"
