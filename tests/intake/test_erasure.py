"""Erasing one person on request: their personal data goes from the NGO's records and from the
copy a referral gave another NGO; the de-identified case and every count stay."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.intake.conftest import Intake
from tests.intake.test_bad_input import _row_counts
from tests.intake.test_cases import Auth, outbox_events, register
from tests.intake.test_encryption_at_rest import PERSON
from tests.intake.test_referral_saga import IN_CLEAR, OSH, share_and_accept


async def erase(intake: Intake, auth: Auth, person_id: str, user: str = "akt-manager") -> Any:
    return await intake.client.post(
        f"/v1/persons/{person_id}/erasure",
        json={"confirm_person_id": person_id},
        headers=await auth(user),
    )


async def case_events(intake: Intake, case_id: str) -> int:
    return await intake.count(
        "outbox", "payload->>'subject' = :s AND payload->>'type' LIKE 'case.%'", s=case_id
    )


async def test_an_erased_person_keeps_a_de_identified_case_and_nothing_personal(
    intake: Intake, auth: Auth
) -> None:
    headers = await auth("akt-caseworker")
    case = await register(intake, auth, person=PERSON, notes="Записка о Зульфие")
    for path, body in (
        ("assistance", {"type": "legal_aid", "mode": "office", "provided_on": "2026-03-12"}),
        (
            "consents",
            {
                "purpose": "registration",
                "scope": ["first_name"],
                "method": "written",
                "given_by": "guardian",
                "guardian_name": "Кадырбеков Марат",
                "given_at": "2026-03-10T10:00:00+05:00",
            },
        ),
    ):
        response = await intake.client.post(
            f"/v1/cases/{case['id']}/{path}", json=body, headers=headers
        )
        assert response.status_code == 201, response.text
    events_before = await case_events(intake, case["id"])

    response = await erase(intake, auth, case["person"]["id"])
    assert response.status_code == 200, response.text
    assert response.json()["case_ids"] == [case["id"]] and response.json()["basis"] == "request"

    after = (await intake.client.get(f"/v1/cases/{case['id']}", headers=headers)).json()
    person = after["person"]
    assert person["erased_at"] is not None
    emptied = ("first_name", "second_name", "patronymic", "name_latin", "birth_date", "phone")
    assert {k: person[k] for k in emptied} == dict.fromkeys(emptied)
    assert person["documents"] == [] and after["notes"] is None
    kept = {k: after[k] for k in ("number", "categories", "status", "opened_on")}
    assert kept == {k: case[k] for k in kept}, "the de-identified case changed"
    assert (person["sex"], person["citizenship"]) == ("female", "KG")
    consent = (await intake.client.get(f"/v1/cases/{case['id']}/consents", headers=headers)).json()
    assert consent[0]["guardian_name"] is None

    async with intake.admin_engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT first_name, birth_date, documents, phone, birth_year, "
                    "name_indexes, document_indexes FROM persons WHERE id = :p"
                ),
                {"p": uuid.UUID(case["person"]["id"])},
            )
        ).one()
        age_band = (
            await conn.execute(
                text("SELECT age_band FROM cases WHERE id = :c"), {"c": uuid.UUID(case["id"])}
            )
        ).scalar_one()
    assert tuple(row) == (None, None, None, None, None, [], []), "ciphertext or indexes left"
    assert age_band == "25-34", "the age band for reports went with the person"
    found = await intake.client.get(
        "/v1/cases", params={"name": "Kadyrbekova Zulfiya", "limit": 200}, headers=headers
    )
    assert case["id"] not in {c["id"] for c in found.json()["items"]}
    # No case.* event: what reporting counts is exactly as it was.
    assert await case_events(intake, case["id"]) == events_before
    erased = await outbox_events(intake, "person.erased", case["person"]["id"])
    assert erased == 1

    again = await erase(intake, auth, case["person"]["id"])
    assert again.status_code == 409, again.text
    changed = await intake.client.patch(
        f"/v1/cases/{case['id']}", json={"person": {"first_name": "Снова"}}, headers=headers
    )
    assert changed.status_code == 409, "an erased person's data was written again"


async def test_erasure_reaches_the_copy_a_referral_gave_the_receiving_ngo(
    intake: Intake, auth: Auth
) -> None:
    case, acceptance, registered = await share_and_accept(intake, auth)
    linked_id = registered["data"]["case_id"]
    osh = await auth("osh-caseworker")
    linked = (await intake.client.get(f"/v1/cases/{linked_id}", headers=osh)).json()
    assert linked["person"]["first_name"] == "Гульнора"

    response = await erase(intake, auth, case["person"]["id"])
    assert response.status_code == 200, response.text
    assert response.json()["referral_ids"] == [str(acceptance.referral_id)]
    assert await intake.count("share_packages", "case_id = :c", c=uuid.UUID(case["id"])) == 0

    async with intake.admin_engine.connect() as conn:
        event = (
            await conn.execute(
                text(
                    "SELECT payload FROM outbox WHERE payload->>'type' = 'person.erased' "
                    "AND payload->>'subject' = :p"
                ),
                {"p": case["person"]["id"]},
            )
        ).scalar_one()
    assert event["data"]["shares"] == [
        {"referral_id": str(acceptance.referral_id), "receiver_tenant": str(OSH)}
    ]
    as_text = json.dumps(event, ensure_ascii=False)
    assert not [value for value in IN_CLEAR if value in as_text], "personal data in the event"

    deadline = time.monotonic() + 15
    while True:
        linked = (await intake.client.get(f"/v1/cases/{linked_id}", headers=osh)).json()
        if linked["person"]["first_name"] is None:
            break
        assert time.monotonic() < deadline, "the receiving NGO's copy was never cleared"
        await asyncio.sleep(0.2)
    person = linked["person"]
    assert (person["second_name"], person["documents"]) == (None, []), "a copied field is left"
    assert linked["categories"] == ["identified_victim_of_trafficking"], "the case itself changed"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("no body", None),
        ("confirmation missing", {}),
        ("confirmation not an id", {"confirm_person_id": "Q7X-not-an-id"}),
        ("another person's id", {"confirm_person_id": str(uuid.uuid4())}),
        ("unknown field", {"confirm_person_id": "{person_id}", "reason": "Q7X"}),
    ],
)
async def test_a_bad_erasure_request_is_refused_and_erases_nothing(
    intake: Intake, auth: Auth, name: str, body: dict[str, str] | None
) -> None:
    case = await register(intake, auth, person=PERSON)
    person_id = case["person"]["id"]
    if body is not None:
        body = {k: v.replace("{person_id}", person_id) for k, v in body.items()}
    before = await _row_counts(intake)
    response = await intake.client.post(
        f"/v1/persons/{person_id}/erasure",
        headers=await auth("akt-manager"),
        **({"json": body} if body is not None else {}),
    )
    assert response.status_code == 422, f"{name}: {response.status_code} {response.text[:200]}"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Q7X" not in response.text
    assert await _row_counts(intake) == before, f"{name}: rows were written"
    still = await intake.client.get(f"/v1/cases/{case['id']}", headers=await auth("akt-caseworker"))
    assert still.json()["person"]["first_name"] == PERSON["first_name"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/persons/Q7X/export"), ("POST", "/v1/persons/Q7X/erasure")],
)
async def test_a_person_id_that_is_no_id_is_refused_with_a_problem(
    intake: Intake, auth: Auth, method: str, path: str
) -> None:
    before = await _row_counts(intake)
    response = await intake.client.request(
        method,
        path,
        headers=await auth("akt-manager"),
        **({"json": {"confirm_person_id": str(uuid.uuid4())}} if method == "POST" else {}),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Q7X" not in response.text
    assert await _row_counts(intake) == before
