"""Registering, reading, listing, updating and closing cases through intake's HTTP API."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from sqlalchemy import text

from tests.intake.conftest import Intake

CASE: dict[str, Any] = {
    "person": {
        "first_name": "Тахир",
        "second_name": "Сабиров",
        "name_latin": "Takhir Sabirov",
        "sex": "male",
        "birth_date": "1998-04-02",
        "citizenship": "TJ",
        "documents": [{"type": "passport", "status": "confiscated", "number": "N1234567"}],
        "phone": "+77011234567",
    },
    "categories": ["presumed_victim_of_trafficking"],
    "exploitation_forms": ["labour"],
    "opened_on": "2026-03-10",
}


async def stream_events(
    intake: Intake, subject: str, case_id: str, timeout: float = 10
) -> list[dict[str, Any]]:
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
    response = await intake.client.post(
        "/v1/cases", json=CASE, headers=await auth("akt-caseworker")
    )
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


# ----------------------------------------------------------------------------- helpers

Auth = Callable[[str], Awaitable[dict[str, str]]]


async def register(
    intake: Intake, auth: Auth, user: str = "akt-caseworker", **changes: Any
) -> dict[str, Any]:
    """Register ``CASE`` (with ``changes``) as ``user``; the case as the API returned it."""
    body = copy.deepcopy(CASE)
    body.update(changes)
    response = await intake.client.post("/v1/cases", json=body, headers=await auth(user))
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


async def outbox_events(intake: Intake, event_type: str, subject: str) -> int:
    """Events of ``event_type`` about ``subject`` written to the outbox (published or not)."""
    return await intake.count(
        "outbox",
        "payload->>'type' = :type AND payload->>'subject' = :subject",
        type=event_type,
        subject=subject,
    )


# ----------------------------------------------------------------------------- updating


async def test_updating_a_case_publishes_case_updated_naming_the_changed_fields_only(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth)
    response = await intake.client.patch(
        f"/v1/cases/{case['id']}",
        json={
            "risk_level": "high",
            "trm_stage": "first_assistance_and_protection",
            "notes": "Живёт у родственников в Актобе",
            "person": {"first_name": "Тимур", "phone": "+77019998877", "birth_date": "1997-01-05"},
        },
        headers=await auth("akt-caseworker"),
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["revision"] == case["revision"] + 1
    assert updated["person"]["first_name"] == "Тимур" and updated["risk_level"] == "high"

    events = await stream_events(intake, "tirek.intake.case.updated.v1", case["id"])
    assert len(events) == 1, f"expected one case.updated, got {len(events)}"
    data = events[0]["data"]
    assert set(data["changed"]) == {
        "risk_level",
        "trm_stage",
        "notes",
        "person.first_name",
        "person.phone",
        "person.birth_date",
    }, f"case.updated names the wrong fields: {data['changed']}"
    assert data["risk_level"] == "high" and data["age_band"] == "25-34"
    text = json.dumps(events[0], ensure_ascii=False)
    for personal in ("Тимур", "Тахир", "+77019998877", "1997-01-05", "родственников", "N1234567"):
        assert personal not in text, f"case.updated carries personal data: {personal}"


async def test_an_update_that_changes_nothing_publishes_nothing(intake: Intake, auth: Auth) -> None:
    case = await register(intake, auth)
    response = await intake.client.patch(
        f"/v1/cases/{case['id']}",
        json={"risk_level": case["risk_level"], "person": {"first_name": "Тахир"}},
        headers=await auth("akt-caseworker"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["revision"] == case["revision"], "an empty change bumped the revision"
    assert await outbox_events(intake, "case.updated", case["id"]) == 0, (
        "case.updated was published for an update that changed nothing"
    )


async def test_a_case_is_closed_only_through_close(intake: Intake, auth: Auth) -> None:
    case = await register(intake, auth)
    response = await intake.client.patch(
        f"/v1/cases/{case['id']}", json={"status": "closed"}, headers=await auth("akt-manager")
    )
    assert response.status_code == 422, response.text
    assert await outbox_events(intake, "case.updated", case["id"]) == 0


# ----------------------------------------------------------------------------- closing


async def test_closing_a_case_publishes_case_closed_and_freezes_the_case(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth)
    manager = await auth("akt-manager")
    path = f"/v1/cases/{case['id']}"

    closed = await intake.client.post(
        f"{path}/close",
        json={"reason": "returned_home", "closed_on": "2026-04-01"},
        headers=manager,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["closed_on"] == "2026-04-01"

    events = await stream_events(intake, "tirek.intake.case.closed.v1", case["id"])
    assert len(events) == 1, f"expected one case.closed, got {len(events)}"
    assert events[0]["data"]["reason"] == "returned_home"
    assert events[0]["data"]["closed_on"] == "2026-04-01"

    again = await intake.client.post(f"{path}/close", json={"reason": "other"}, headers=manager)
    assert again.status_code == 409, f"closing a closed case again: {again.status_code}"
    assert again.headers["content-type"].startswith("application/problem+json")
    changed = await intake.client.patch(path, json={"risk_level": "high"}, headers=manager)
    assert changed.status_code == 409, f"updating a closed case: {changed.status_code}"
    assistance = await intake.client.post(
        f"{path}/assistance",
        json={"type": "legal_aid", "mode": "office", "provided_on": "2026-04-02"},
        headers=manager,
    )
    assert assistance.status_code == 409, f"assistance on a closed case: {assistance.status_code}"

    after = (await intake.client.get(path, headers=manager)).json()
    assert after["closure_reason"] == "returned_home" and after["risk_level"] == "medium"
    assert after["revision"] == closed.json()["revision"], "a refused change still changed it"
    assert await outbox_events(intake, "case.closed", case["id"]) == 1
    assert await outbox_events(intake, "case.updated", case["id"]) == 0


async def test_a_case_closed_as_referred_is_marked_closed_referred(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth)
    response = await intake.client.post(
        f"/v1/cases/{case['id']}/close",
        json={"reason": "referred"},
        headers=await auth("akt-manager"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "closed_referred"


async def test_a_case_cannot_be_closed_before_it_was_opened(intake: Intake, auth: Auth) -> None:
    case = await register(intake, auth)
    response = await intake.client.post(
        f"/v1/cases/{case['id']}/close",
        json={"reason": "contact_lost", "closed_on": "2026-03-09"},
        headers=await auth("akt-manager"),
    )
    assert response.status_code == 422, response.text
    assert await outbox_events(intake, "case.closed", case["id"]) == 0


# ----------------------------------------------------------------------------- listing


async def _list(intake: Intake, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = await intake.client.get(
        "/v1/cases", params={"limit": "200", **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None, "expected a single page"
    items: list[dict[str, Any]] = page["items"]
    return items


async def test_case_list_filters_by_status_category_stage_assignee_and_opening_dates(
    intake: Intake, auth: Auth
) -> None:
    # NUK's cases opened around 2012 are this test's alone: the date window isolates them.
    user = "nuk-caseworker"
    assignee = f"lawyer-{uuid.uuid4().hex[:8]}"
    first = await register(
        intake, auth, user, opened_on="2012-01-01", categories=["labour_migrant"]
    )
    victim = await register(
        intake,
        auth,
        user,
        opened_on="2012-05-05",
        assigned_to=assignee,
        categories=["presumed_victim_of_trafficking", "deportee"],
        trm_stage="first_assistance_and_protection",
    )
    follow_up = await register(intake, auth, user, opened_on="2012-12-31", categories=["deportee"])
    closed = await register(
        intake, auth, user, opened_on="2012-07-07", categories=["labour_migrant"]
    )
    before = await register(
        intake, auth, user, opened_on="2011-12-31", assigned_to=assignee, categories=["deportee"]
    )
    await register(intake, auth, user, opened_on="2013-01-01", categories=["deportee"])
    manager = await auth("nuk-manager")
    response = await intake.client.patch(
        f"/v1/cases/{follow_up['id']}", json={"status": "follow_up"}, headers=manager
    )
    assert response.status_code == 200, response.text
    response = await intake.client.post(
        f"/v1/cases/{closed['id']}/close", json={"reason": "other"}, headers=manager
    )
    assert response.status_code == 200, response.text

    headers = await auth(user)
    year = {"opened_from": "2012-01-01", "opened_to": "2012-12-31"}
    expectations: list[tuple[dict[str, str], set[str]]] = [
        (year, {first["id"], victim["id"], follow_up["id"], closed["id"]}),
        ({**year, "status": "active"}, {first["id"], victim["id"]}),
        ({**year, "status": "follow_up"}, {follow_up["id"]}),
        ({**year, "status": "closed"}, {closed["id"]}),
        ({**year, "category": "deportee"}, {victim["id"], follow_up["id"]}),
        ({**year, "trm_stage": "first_assistance_and_protection"}, {victim["id"]}),
        ({"assigned_to": assignee}, {victim["id"], before["id"]}),
        ({"opened_from": "2012-05-05", "opened_to": "2012-07-07"}, {victim["id"], closed["id"]}),
        ({**year, "category": "deportee", "status": "active"}, {victim["id"]}),
    ]
    for params, expected in expectations:
        found = {item["id"] for item in await _list(intake, headers, **params)}
        assert found == expected, f"list filtered by {params}: got {len(found)} cases, " + (
            f"missing {len(expected - found)}, unexpected {len(found - expected)}"
        )


async def test_following_the_cursor_walks_every_case_once_newest_first(
    intake: Intake, auth: Auth
) -> None:
    registered = [
        (await register(intake, auth, "nuk-caseworker", opened_on=f"2014-0{month}-15"))["id"]
        for month in range(1, 8)
    ]
    headers = await auth("nuk-caseworker")
    params = {"opened_from": "2014-01-01", "opened_to": "2014-12-31", "limit": "2"}
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        response = await intake.client.get(
            "/v1/cases",
            params={**params, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        assert len(page["items"]) <= 2
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "the cursor never ends"
    assert len(seen) == len(set(seen)), "a case appeared on two pages"
    assert seen == list(reversed(registered)), "pages skipped cases or are not newest first"
    assert pages == 4


# ----------------------------------------------------------------------------- case numbers


async def test_case_numbers_are_sequential_per_ngo_and_year(intake: Intake, auth: Auth) -> None:
    # 2019 and 2018 are used by no other test: the sequences start at 1.
    jal_2019 = [
        (await register(intake, auth, "jal-caseworker", opened_on=f"2019-0{i}-01"))["number"]
        for i in range(1, 4)
    ]
    nuk_2019 = (await register(intake, auth, "nuk-caseworker", opened_on="2019-02-01"))["number"]
    jal_2018 = (await register(intake, auth, "jal-caseworker", opened_on="2018-02-01"))["number"]
    assert jal_2019 == ["KG-JAL-2019-000001", "KG-JAL-2019-000002", "KG-JAL-2019-000003"]
    assert nuk_2019 == "UZ-NUK-2019-000001", "another NGO's cases advanced NUK's sequence"
    assert jal_2018 == "KG-JAL-2018-000001", "another year's cases advanced 2018's sequence"


async def test_concurrent_registrations_get_distinct_consecutive_numbers(
    intake: Intake, auth: Auth
) -> None:
    cases = await asyncio.gather(
        *(register(intake, auth, "tld-caseworker", opened_on="2017-06-01") for _ in range(20))
    )
    numbers = sorted(case["number"] for case in cases)
    assert numbers == [f"KZ-TLD-2017-{n:06d}" for n in range(1, 21)], (
        f"20 concurrent registrations got {len(set(numbers))} distinct numbers: {numbers}"
    )


async def test_numbers_past_a_million_agree_with_the_rule(intake: Intake, auth: Auth) -> None:
    """The database writes the number (in the statement that stores the case); it must read
    as :func:`intake.cases.rules.case_number` does, the millionth case a year and after."""
    from intake.cases import rules
    from tirek.demo.consortium import tenant_by_code

    osh = tenant_by_code("OSH")
    async with intake.admin_engine.begin() as conn:  # 2016 is used by no other test
        await conn.execute(
            text(
                "INSERT INTO case_number_counters (tenant_id, year, last_value) "
                "VALUES (:tenant, 2016, 999998)"
            ),
            {"tenant": osh.id},
        )
    numbers = [
        (await register(intake, auth, "osh-caseworker", opened_on="2016-05-01"))["number"]
        for _ in range(3)
    ]
    assert numbers == [
        rules.case_number(osh.country, osh.code, 2016, n) for n in (999999, 1000000, 1000001)
    ]
    assert numbers == ["KG-OSH-2016-999999", "KG-OSH-2016-1000000", "KG-OSH-2016-1000001"]
