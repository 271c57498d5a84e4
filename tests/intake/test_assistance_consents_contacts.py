"""Assistance records, anonymous contacts, consents and family links through intake's API."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.intake.conftest import Intake
from tests.intake.test_cases import Auth, outbox_events, register, stream_events
from tirek.demo.consortium import tenant_by_code

OSH = tenant_by_code("OSH").id

# ----------------------------------------------------------------------------- assistance


async def test_recording_assistance_publishes_assistance_recorded_without_the_notes(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth)
    headers = await auth("akt-caseworker")
    response = await intake.client.post(
        f"/v1/cases/{case['id']}/assistance",
        json={
            "type": "document_restoration",
            "mode": "mobile_outreach",
            "provided_on": "2026-03-12",
            "project_code": "IOM-KZ-2026",
            "notes": "Паспорт N1234567 у работодателя",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    record = response.json()

    listed = await intake.client.get(f"/v1/cases/{case['id']}/assistance", headers=headers)
    assert [r["id"] for r in listed.json()] == [record["id"]]

    events = await stream_events(intake, "tirek.intake.assistance.recorded.v1", case["id"])
    assert len(events) == 1, f"expected one assistance.recorded, got {len(events)}"
    data = events[0]["data"]
    assert data["assistance_id"] == record["id"]
    assert data["person_id"] == case["person"]["id"]
    assert (data["type"], data["mode"], data["provided_on"], data["project_code"]) == (
        "document_restoration",
        "mobile_outreach",
        "2026-03-12",
        "IOM-KZ-2026",
    )
    text = json.dumps(events[0], ensure_ascii=False)
    for personal in ("Паспорт", "N1234567", "работодателя"):
        assert personal not in text, f"assistance.recorded carries the notes: {personal}"


async def test_assistance_before_the_case_was_opened_is_refused(intake: Intake, auth: Auth) -> None:
    case = await register(intake, auth)
    response = await intake.client.post(
        f"/v1/cases/{case['id']}/assistance",
        json={"type": "legal_aid", "mode": "office", "provided_on": "2026-03-09"},
        headers=await auth("akt-caseworker"),
    )
    assert response.status_code == 422, response.text
    assert await outbox_events(intake, "assistance.recorded", case["id"]) == 0


async def test_a_project_named_none_is_refused(intake: Intake, auth: Auth) -> None:
    """Reports show ``none`` for records without a project (reporting's indicators)."""
    case = await register(intake, auth)
    response = await intake.client.post(
        f"/v1/cases/{case['id']}/assistance",
        json={
            "type": "legal_aid",
            "mode": "office",
            "provided_on": "2026-03-12",
            "project_code": "None",
        },
        headers=await auth("akt-caseworker"),
    )
    assert response.status_code == 422, response.text
    assert "project" in response.text
    assert await outbox_events(intake, "assistance.recorded", case["id"]) == 0


# ----------------------------------------------------------------------------- contacts


async def test_recording_a_hotline_call_publishes_contact_recorded_without_the_notes(
    intake: Intake, auth: Auth
) -> None:
    headers = await auth("osh-caseworker")
    response = await intake.client.post(
        "/v1/contacts",
        json={
            "received_on": "2026-03-15",
            "topic": "employment_abroad",
            "country": "RU",
            "sex": "female",
            "project_code": "USAID-SM",
            "notes": "Советовали проверить агентство Барака",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    contact = response.json()

    listed = await intake.client.get(
        "/v1/contacts",
        params={"received_from": "2026-03-15", "received_to": "2026-03-15"},
        headers=headers,
    )
    assert contact["id"] in {c["id"] for c in listed.json()}

    events = await stream_events(intake, "tirek.intake.contact.recorded.v1", contact["id"])
    assert len(events) == 1, f"expected one contact.recorded, got {len(events)}"
    assert events[0]["tenant"] == str(OSH)
    data = events[0]["data"]
    assert (data["topic"], data["country"], data["sex"], data["mode"]) == (
        "employment_abroad",
        "RU",
        "female",
        "hotline",
    )
    assert "Барака" not in json.dumps(events[0], ensure_ascii=False), (
        "contact.recorded carries the operator's notes"
    )


# ----------------------------------------------------------------------------- consents

CONSENT: dict[str, Any] = {
    "purpose": "referral",
    "scope": ["first_name", "second_name", "documents"],
    "recipient_tenant": str(OSH),
    "method": "written",
    "given_at": "2026-03-10T11:00:00+05:00",
    "valid_until": "2027-03-10",
}


async def test_giving_and_withdrawing_consent_publishes_both_and_withdraws_only_once(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth)
    headers = await auth("akt-caseworker")
    given = await intake.client.post(
        f"/v1/cases/{case['id']}/consents", json=CONSENT, headers=headers
    )
    assert given.status_code == 201, given.text
    consent = given.json()
    assert consent["withdrawn_at"] is None

    events = await stream_events(intake, "tirek.intake.consent.given.v1", case["id"])
    assert len(events) == 1, f"expected one consent.given, got {len(events)}"
    data = events[0]["data"]
    assert data["consent_id"] == consent["id"] and data["recipient_tenant"] == str(OSH)
    assert sorted(data["scope"]) == sorted(CONSENT["scope"])

    path = f"/v1/cases/{case['id']}/consents/{consent['id']}/withdraw"
    withdrawn = await intake.client.post(path, json={"reason": "Боится за семью"}, headers=headers)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawn_at"] is not None

    events = await stream_events(intake, "tirek.intake.consent.withdrawn.v1", case["id"])
    assert len(events) == 1, f"expected one consent.withdrawn, got {len(events)}"
    data = events[0]["data"]
    assert data["consent_id"] == consent["id"] and data["recipient_tenant"] == str(OSH), (
        "consent.withdrawn must name the NGO that has to purge the data"
    )
    assert "Боится" not in json.dumps(events[0], ensure_ascii=False)

    again = await intake.client.post(path, headers=headers)
    assert again.status_code == 409, f"withdrawing twice: {again.status_code}"
    assert again.headers["content-type"].startswith("application/problem+json")
    assert await outbox_events(intake, "consent.withdrawn", case["id"]) == 1

    listed = await intake.client.get(f"/v1/cases/{case['id']}/consents", headers=headers)
    assert [(c["id"], c["withdrawal_reason"]) for c in listed.json()] == [
        (consent["id"], "Боится за семью")
    ]


async def test_a_referral_consent_must_name_the_receiving_ngo(intake: Intake, auth: Auth) -> None:
    case = await register(intake, auth)
    body = {k: v for k, v in CONSENT.items() if k != "recipient_tenant"}
    response = await intake.client.post(
        f"/v1/cases/{case['id']}/consents", json=body, headers=await auth("akt-caseworker")
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await intake.count("consents", "case_id = :id", id=uuid.UUID(case["id"])) == 0
    assert await outbox_events(intake, "consent.given", case["id"]) == 0


async def test_a_guardians_consent_must_name_the_guardian(intake: Intake, auth: Auth) -> None:
    case = await register(intake, auth)
    response = await intake.client.post(
        f"/v1/cases/{case['id']}/consents",
        json={**CONSENT, "given_by": "guardian"},
        headers=await auth("akt-caseworker"),
    )
    assert response.status_code == 422, response.text
    assert await intake.count("consents", "case_id = :id", id=uuid.UUID(case["id"])) == 0


# ----------------------------------------------------------------------------- family links


async def test_family_links_join_two_persons_of_the_same_ngo(intake: Intake, auth: Auth) -> None:
    mother = await register(intake, auth)
    child = await register(
        intake,
        auth,
        person={"first_name": "Малика", "sex": "female", "estimated_age": 6},
        categories=["child_of_migrant"],
    )
    headers = await auth("akt-caseworker")
    response = await intake.client.post(
        f"/v1/persons/{mother['person']['id']}/family-links",
        json={"related_person_id": child["person"]["id"], "relation": "child"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    link = response.json()

    for person in (mother, child):
        listed = await intake.client.get(
            f"/v1/persons/{person['person']['id']}/family-links", headers=headers
        )
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()] == [link["id"]], (
            "the family link does not show from both persons"
        )


async def test_family_links_across_ngos_are_refused_as_not_found(
    intake: Intake, auth: Auth
) -> None:
    akt_person = (await register(intake, auth))["person"]["id"]
    osh_person = (await register(intake, auth, "osh-caseworker"))["person"]["id"]
    links_before = await intake.count("family_links")

    for user, person, related in (
        ("akt-caseworker", akt_person, osh_person),
        ("osh-caseworker", osh_person, akt_person),
        ("osh-caseworker", akt_person, osh_person),
    ):
        response = await intake.client.post(
            f"/v1/persons/{person}/family-links",
            json={"related_person_id": related, "relation": "sibling"},
            headers=await auth(user),
        )
        assert response.status_code == 404, f"{user} linked {person} to {related}: {response.text}"
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await intake.count("family_links") == links_before, "a cross-NGO family link was stored"
