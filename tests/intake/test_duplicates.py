"""Duplicate suggestions within an NGO: the caseworker confirms (the same person) or dismisses
(not the same) each pair; the decision persists, shows on both cases, and a dismissed pair is
never suggested again. Nothing is ever merged."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.intake.conftest import Intake
from tests.intake.test_cases import Auth
from tests.intake.test_search import person, register


def unique_name() -> tuple[str, str]:
    """A family name no other test uses, in Cyrillic and in Latin letters."""
    syllables = [("ба", "ba"), ("ка", "ka"), ("ла", "la"), ("ма", "ma"), ("ра", "ra"), ("ту", "tu")]
    n = uuid.uuid4().int
    picked = [syllables[(n >> (4 * i)) % len(syllables)] for i in range(6)]
    return (
        "".join(c for c, _ in picked).capitalize() + "ов",
        "".join(lat for _, lat in picked).capitalize() + "ov",
    )


async def duplicates_of(
    intake: Intake, auth: Auth, case_id: str, user: str = "osh-caseworker", **params: Any
) -> dict[str, dict[str, Any]]:
    response = await intake.client.get(
        f"/v1/cases/{case_id}/duplicates", params=params, headers=await auth(user)
    )
    assert response.status_code == 200, response.text
    return {item["case_id"]: item for item in response.json()["items"]}


async def decide(
    intake: Intake,
    auth: Auth,
    case_id: str,
    other: str,
    decision: str,
    user: str = "osh-caseworker",
) -> dict[str, Any]:
    response = await intake.client.put(
        f"/v1/cases/{case_id}/duplicates/{other}",
        json={"decision": decision},
        headers=await auth(user),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def three_registrations(intake: Intake, auth: Auth) -> list[dict[str, Any]]:
    cyrillic, latin = unique_name()
    return [
        await register(
            intake, auth, "osh-caseworker", person(first_name="Бакыт", second_name=cyrillic)
        ),
        await register(
            intake, auth, "osh-caseworker", person(first_name="Bakyt", second_name=latin)
        ),
        await register(intake, auth, "osh-manager", person(name_latin=f"{latin} Bakyt")),
    ]


async def test_a_suggestion_lists_its_state_and_why_it_matches(intake: Intake, auth: Auth) -> None:
    first, second, third = await three_registrations(intake, auth)
    assert {first["id"], second["id"]} <= {d["id"] for d in third["possible_duplicates"]}
    found = await duplicates_of(intake, auth, second["id"])
    assert set(found) == {first["id"], third["id"]}
    assert found[first["id"]]["state"] == "suggested"
    assert found[first["id"]]["matched_on"] == ["name"]
    assert found[first["id"]]["number"] == first["number"]
    assert found[first["id"]]["decided_by"] is None
    # No personal data in the suggestions.
    assert "Бакыт" not in str(found) and "Bakyt" not in str(found)


async def test_a_dismissed_pair_is_not_suggested_again_from_either_case(
    intake: Intake, auth: Auth
) -> None:
    first, second, third = await three_registrations(intake, auth)
    dismissed = await decide(intake, auth, second["id"], first["id"], "dismissed")
    assert dismissed["state"] == "dismissed" and dismissed["case_id"] == first["id"]

    assert first["id"] not in await duplicates_of(intake, auth, second["id"])
    assert second["id"] not in await duplicates_of(intake, auth, first["id"])
    # The other pairs are still suggestions.
    assert (await duplicates_of(intake, auth, second["id"]))[third["id"]]["state"] == "suggested"
    # Asked for, the dismissal shows with who decided it, so it can be undone.
    shown = await duplicates_of(intake, auth, first["id"], include_dismissed="true")
    assert shown[second["id"]]["state"] == "dismissed"
    assert shown[second["id"]]["decided_by"] == dismissed["decided_by"]
    assert (
        await intake.count(
            "duplicate_decisions",
            "decision = 'dismissed' AND :a IN (case_a, case_b) AND :b IN (case_a, case_b)",
            a=uuid.UUID(first["id"]),
            b=uuid.UUID(second["id"]),
        )
        == 1
    )


async def test_a_confirmed_pair_shows_on_both_cases_and_is_never_merged(
    intake: Intake, auth: Auth
) -> None:
    first, second, _ = await three_registrations(intake, auth)
    confirmed = await decide(intake, auth, first["id"], second["id"], "confirmed", "osh-manager")
    assert confirmed["state"] == "confirmed" and confirmed["decided_at"]

    assert (await duplicates_of(intake, auth, first["id"]))[second["id"]]["state"] == "confirmed"
    assert (await duplicates_of(intake, auth, second["id"]))[first["id"]]["state"] == "confirmed"
    # Both cases and both persons stay as they were.
    for case in (first, second):
        read = await intake.client.get(
            f"/v1/cases/{case['id']}", headers=await auth("osh-caseworker")
        )
        assert read.json()["person"]["id"] == case["person"]["id"]
        assert read.json()["revision"] == 1

    # A confirmed pair stays shown when the names no longer match.
    renamed = await intake.client.patch(
        f"/v1/cases/{second['id']}",
        json={"person": {"first_name": "Нурлан", "second_name": "Осмонов"}},
        headers=await auth("osh-caseworker"),
    )
    assert renamed.status_code == 200, renamed.text
    still = (await duplicates_of(intake, auth, first["id"]))[second["id"]]
    assert still["state"] == "confirmed" and still["matched_on"] == []


async def test_deciding_again_replaces_the_decision(intake: Intake, auth: Auth) -> None:
    first, second, _ = await three_registrations(intake, auth)
    await decide(intake, auth, first["id"], second["id"], "dismissed")
    await decide(intake, auth, second["id"], first["id"], "confirmed", "osh-manager")
    assert (await duplicates_of(intake, auth, first["id"]))[second["id"]]["state"] == "confirmed"
    assert (
        await intake.count(
            "duplicate_decisions",
            ":a IN (case_a, case_b) AND :b IN (case_a, case_b)",
            a=uuid.UUID(first["id"]),
            b=uuid.UUID(second["id"]),
        )
        == 1
    )


@pytest.mark.parametrize(
    ("what", "other", "body", "status"),
    [
        ("unknown decision", "second", {"decision": "merged"}, 422),
        ("no decision", "second", {}, 422),
        ("extra field", "second", {"decision": "confirmed", "note": "Бакыт"}, 422),
        ("not json", "second", "confirmed", 422),
        ("the case itself", "self", {"decision": "confirmed"}, 422),
        ("a case that does not exist", "nobody", {"decision": "confirmed"}, 404),
        ("another NGO's case", "foreign", {"decision": "confirmed"}, 404),
        ("not a case id", "garbage", {"decision": "confirmed"}, 422),
    ],
)
async def test_bad_decisions_get_problem_details_and_change_nothing(
    intake: Intake, auth: Auth, what: str, other: str, body: Any, status: int
) -> None:
    first, second, _ = await three_registrations(intake, auth)
    foreign = await register(intake, auth, "akt-caseworker", person(first_name="Бакыт"))
    target = {
        "second": second["id"],
        "self": first["id"],
        "nobody": str(uuid.uuid4()),
        "foreign": foreign["id"],
        "garbage": "not-a-uuid",
    }[other]
    before = await intake.count("duplicate_decisions")
    response = await intake.client.put(
        f"/v1/cases/{first['id']}/duplicates/{target}",
        json=body,
        headers=await auth("osh-caseworker"),
    )
    assert response.status_code == status, f"{what}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Бакыт" not in response.text
    assert await intake.count("duplicate_decisions") == before, f"{what} was stored"


async def test_bad_suggestion_queries_get_problem_details(intake: Intake, auth: Auth) -> None:
    first, _, _ = await three_registrations(intake, auth)
    headers = await auth("osh-caseworker")
    for path in (
        "/v1/cases/not-a-uuid/duplicates",
        f"/v1/cases/{first['id']}/duplicates?include_dismissed=perhaps",
        f"/v1/cases/{uuid.uuid4()}/duplicates",
    ):
        response = await intake.client.get(path, headers=headers)
        assert 400 <= response.status_code < 500, f"{path}: {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
