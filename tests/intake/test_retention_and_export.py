"""Retention: an NGO's policy erases what it makes due, and the dry run lists exactly that.
Export: everything intake holds about one person, for a subject-access request."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from intake.privacy import retention
from tests.intake.conftest import Intake
from tests.intake.test_bad_input import _row_counts
from tests.intake.test_cases import Auth, register
from tests.intake.test_encryption_at_rest import PERSON
from tirek.demo.consortium import tenant_by_code

TLD = tenant_by_code("TLD").id


def years_ago(years: int, days: int = 0) -> date:
    return retention.years_after(date.today(), -years) - timedelta(days=days)


async def closed_case(
    intake: Intake, auth: Auth, *, opened: date, closed: date | None
) -> dict[str, Any]:
    case = await register(
        intake, auth, user="tld-caseworker", person=PERSON, opened_on=opened.isoformat()
    )
    if closed is not None:
        response = await intake.client.post(
            f"/v1/cases/{case['id']}/close",
            json={"reason": "assistance_completed", "closed_on": closed.isoformat()},
            headers=await auth("tld-manager"),
        )
        assert response.status_code == 200, response.text
    return case


async def set_policy(intake: Intake, auth: Auth, years: int | None) -> None:
    response = await intake.client.put(
        "/v1/retention-policy", json={"erase_after_years": years}, headers=await auth("tld-admin")
    )
    assert response.status_code == 200, response.text


async def test_the_retention_dry_run_lists_exactly_what_the_real_run_erases(
    intake: Intake, auth: Auth
) -> None:
    long_closed = await closed_case(intake, auth, opened=years_ago(8), closed=years_ago(6))
    just_due = await closed_case(intake, auth, opened=years_ago(7), closed=years_ago(5, days=1))
    recently_closed = await closed_case(intake, auth, opened=years_ago(3), closed=years_ago(2))
    still_open = await closed_case(intake, auth, opened=years_ago(9), closed=None)
    due_ids = {long_closed["person"]["id"], just_due["person"]["id"]}
    await set_policy(intake, auth, 5)
    try:
        listed = await intake.client.get(
            "/v1/retention-policy/due", headers=await auth("tld-manager")
        )
        assert listed.status_code == 200, listed.text
        dry = {item["person_id"] for item in listed.json()["items"]}
        assert dry == due_ids, "the dry run does not list exactly the persons due"
        assert listed.json()["items"][0]["case_numbers"] == [long_closed["number"]]

        sessions, keyring = intake.app.state.sessions, intake.app.state.keyring
        now = datetime.now(UTC)
        also_dry = await retention.run(
            sessions, keyring, TLD, today=now.date(), now=now, dry_run=True
        )
        assert {str(item.person_id) for item in also_dry} == dry
        # The job as the service runs it, across every NGO.
        erased = await retention.run_all(sessions, keyring, today=now.date(), now=now)
        assert {str(item.person_id) for item in erased[TLD]} == dry, (
            "the real run erased something else than the dry run listed"
        )
        headers = await auth("tld-caseworker")
        for case, gone in (
            (long_closed, True),
            (just_due, True),
            (recently_closed, False),
            (still_open, False),
        ):
            person = (await intake.client.get(f"/v1/cases/{case['id']}", headers=headers)).json()[
                "person"
            ]
            assert (person["erased_at"] is not None) is gone, f"case {case['number']}"
            assert (person["first_name"] is None) is gone
        again = await retention.run(sessions, keyring, TLD, today=now.date(), now=now)
        assert not {str(item.person_id) for item in again} & due_ids, "erased twice"
    finally:
        await set_policy(intake, auth, None)


@pytest.mark.parametrize(
    ("name", "method", "path", "body"),
    [
        ("zero years", "PUT", "/v1/retention-policy", {"erase_after_years": 0}),
        ("a century and more", "PUT", "/v1/retention-policy", {"erase_after_years": 101}),
        ("years as text", "PUT", "/v1/retention-policy", {"erase_after_years": "Q7X"}),
        ("years missing", "PUT", "/v1/retention-policy", {}),
        ("unknown field", "PUT", "/v1/retention-policy", {"erase_after_years": 5, "note": "Q7X"}),
        ("not a date", "GET", "/v1/retention-policy/due?on=Q7X", None),
    ],
)
async def test_a_bad_retention_request_is_refused_and_changes_nothing(
    intake: Intake, auth: Auth, name: str, method: str, path: str, body: Any
) -> None:
    headers = await auth("tld-admin")
    policy = (await intake.client.get("/v1/retention-policy", headers=headers)).json()
    before = await _row_counts(intake)
    response = await intake.client.request(
        method, path, headers=headers, **({"json": body} if body is not None else {})
    )
    assert response.status_code == 422, f"{name}: {response.status_code} {response.text[:200]}"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Q7X" not in response.text
    assert await _row_counts(intake) == before
    assert (await intake.client.get("/v1/retention-policy", headers=headers)).json() == policy


async def test_the_export_holds_everything_intake_holds_about_the_person(
    intake: Intake, auth: Auth
) -> None:
    headers = await auth("akt-caseworker")
    case = await register(intake, auth, person=PERSON, notes="заметка для выгрузки")
    child = await register(intake, auth, person={"first_name": "Малика", "sex": "female"})
    base = f"/v1/cases/{case['id']}"
    for path, body in (
        (
            f"{base}/assistance",
            {"type": "legal_aid", "mode": "office", "provided_on": "2026-03-12", "notes": "n1"},
        ),
        (
            f"{base}/consents",
            {
                "purpose": "registration",
                "scope": ["first_name"],
                "method": "written",
                "given_at": "2026-03-10T10:00:00+05:00",
            },
        ),
        (
            f"/v1/persons/{case['person']['id']}/family-links",
            {"related_person_id": child["person"]["id"], "relation": "child"},
        ),
    ):
        response = await intake.client.post(path, json=body, headers=headers)
        assert response.status_code == 201, response.text

    response = await intake.client.get(
        f"/v1/persons/{case['person']['id']}/export", headers=headers
    )
    assert response.status_code == 200, response.text
    export = response.json()
    assert {k: export["person"][k] for k in ("first_name", "phone", "birth_date")} == {
        k: PERSON[k] for k in ("first_name", "phone", "birth_date")
    }
    assert export["person"]["documents"][0]["number"] == PERSON["documents"][0]["number"]
    assert [c["id"] for c in export["cases"]] == [case["id"]]
    exported = export["cases"][0]
    assert exported["notes"] == "заметка для выгрузки"
    assert [a["notes"] for a in exported["assistance"]] == ["n1"]
    assert [c["purpose"] for c in exported["consents"]] == ["registration"]
    assert [link["related_person_id"] for link in export["family_links"]] == [child["person"]["id"]]
    assert export["shared_with"] == [] and export["erasure"] is None
    assert uuid.UUID(export["organisation"]) == tenant_by_code("AKT").id
