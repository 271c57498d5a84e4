"""Bad input gets a 422 problem that quotes none of it, and changes nothing (DESIGN.md)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.intake.conftest import Intake
from tests.intake.test_cases import CASE

Auth = Callable[[str], Awaitable[dict[str, str]]]

#: Every submitted bad value carries this, so a test can see whether the answer quotes it.
MARK = "Q7X"


@dataclass(frozen=True)
class BadRequest:
    method: str
    #: ``{case_id}`` is filled with a case of AKT's.
    path: str
    #: A JSON value, or ``str`` for a raw body sent as ``application/json``.
    body: Any
    #: What the response must not contain.
    secret: str
    user: str = "akt-caseworker"


def _case(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(CASE)
    body.update(changes)
    return body


def _person(**changes: Any) -> dict[str, Any]:
    return _case(person={**CASE["person"], **changes})


CONSENT: dict[str, Any] = {
    "purpose": "registration",
    "scope": ["first_name", "sex"],
    "method": "written",
    "given_at": "2026-03-10T10:00:00+05:00",
}
ASSISTANCE: dict[str, Any] = {
    "type": "legal_consultation",
    "mode": "office",
    "provided_on": "2026-03-11",
}
CONTACT: dict[str, Any] = {"received_on": "2026-03-11", "topic": "safe_migration"}

BAD_REQUESTS: dict[str, BadRequest] = {
    # Values outside a picklist.
    "unknown case category": BadRequest(
        "POST", "/v1/cases", _case(categories=[f"martian_{MARK}"]), f"martian_{MARK}"
    ),
    "unknown sex": BadRequest("POST", "/v1/cases", _person(sex=f"robot_{MARK}"), f"robot_{MARK}"),
    "unknown TRM stage in an update": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"trm_stage": f"limbo_{MARK}"}, f"limbo_{MARK}"
    ),
    "unknown closure reason": BadRequest(
        "POST",
        "/v1/cases/{case_id}/close",
        {"reason": f"bored_{MARK}"},
        f"bored_{MARK}",
        user="akt-manager",
    ),
    "unknown assistance type": BadRequest(
        "POST",
        "/v1/cases/{case_id}/assistance",
        {**ASSISTANCE, "type": f"magic_{MARK}"},
        f"magic_{MARK}",
    ),
    "unknown consent purpose": BadRequest(
        "POST",
        "/v1/cases/{case_id}/consents",
        {**CONSENT, "purpose": f"sale_{MARK}"},
        f"sale_{MARK}",
    ),
    "unknown contact topic": BadRequest(
        "POST", "/v1/contacts", {**CONTACT, "topic": f"gossip_{MARK}"}, f"gossip_{MARK}"
    ),
    # Dates that cannot be true.
    "birth date in the future": BadRequest(
        "POST", "/v1/cases", _person(birth_date="2999-07-13"), "2999-07-13"
    ),
    "birth date in the future in an update": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"person": {"birth_date": "2999-07-13"}}, "2999-07-13"
    ),
    "case opened in the future": BadRequest(
        "POST", "/v1/cases", _case(opened_on="2999-07-13"), "2999-07-13"
    ),
    "assistance given in the future": BadRequest(
        "POST",
        "/v1/cases/{case_id}/assistance",
        {**ASSISTANCE, "provided_on": "2999-07-13"},
        "2999-07-13",
    ),
    "consent given in the future": BadRequest(
        "POST",
        "/v1/cases/{case_id}/consents",
        {**CONSENT, "given_at": "2999-07-13T10:00:00+05:00"},
        "2999-07-13",
    ),
    "consent given before the calendar can say when": BadRequest(
        "POST",
        "/v1/cases/{case_id}/consents",
        {**CONSENT, "given_at": "0001-01-01T00:00:00+05:00"},
        "0001-01-01",
    ),
    # Oversized text.
    "10,000-character first name": BadRequest(
        "POST", "/v1/cases", _person(first_name="Ж" * 9_997 + MARK), "Ж" * 50
    ),
    "10,000-character notes in an update": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"notes": "Ж" * 9_997 + MARK}, "Ж" * 50
    ),
    "oversized document number": BadRequest(
        "POST",
        "/v1/cases",
        _person(documents=[{"type": "passport", "status": "held", "number": "9" * 500 + MARK}]),
        "9" * 50,
    ),
    # Text PostgreSQL cannot store.
    "NUL character in a name": BadRequest(
        "POST", "/v1/cases", _person(first_name=f"Гуль\u0000нара{MARK}"), f"нара{MARK}"
    ),
    "NUL character in case notes": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"notes": f"met at\u0000{MARK}"}, f"met at\u0000{MARK}"
    ),
    "NUL character in a document number": BadRequest(
        "PATCH",
        "/v1/cases/{case_id}",
        {
            "person": {
                "documents": [{"type": "passport", "status": "held", "number": f"\u0000{MARK}"}]
            }
        },
        f"\u0000{MARK}",
    ),
    "NUL character in assistance notes": BadRequest(
        "POST",
        "/v1/cases/{case_id}/assistance",
        {**ASSISTANCE, "notes": f"\u0000{MARK}"},
        f"\u0000{MARK}",
    ),
    "NUL character in hotline notes": BadRequest(
        "POST", "/v1/contacts", {**CONTACT, "notes": f"\u0000{MARK}"}, f"\u0000{MARK}"
    ),
    "NUL character in a list filter": BadRequest(
        "GET", f"/v1/cases?assigned_to=a%00{MARK}", None, f"a\u0000{MARK}"
    ),
    # Fields the API does not have.
    "unknown field on a case": BadRequest(
        "POST", "/v1/cases", _case(passport_number=f"AB-{MARK}-123"), f"AB-{MARK}-123"
    ),
    "unknown field on a person": BadRequest(
        "POST", "/v1/cases", _person(religion=f"secret-{MARK}"), f"secret-{MARK}"
    ),
    "unknown field on a consent": BadRequest(
        "POST",
        "/v1/cases/{case_id}/consents",
        {**CONSENT, "signature": f"sig-{MARK}"},
        f"sig-{MARK}",
    ),
    # Not JSON, or JSON of the wrong shape.
    "malformed JSON": BadRequest(
        "POST", "/v1/cases", '{"person": {"first_name": "Гульнара' + MARK + '", ', "Гульнара" + MARK
    ),
    "malformed JSON in an update": BadRequest(
        "PATCH", "/v1/cases/{case_id}", '{"notes": "Гульнара' + MARK + '"', "Гульнара" + MARK
    ),
    "a list where a case is expected": BadRequest(
        "POST", "/v1/cases", [f"Гульнара{MARK}"], f"Гульнара{MARK}"
    ),
    "a number where a name is expected": BadRequest(
        "POST", "/v1/cases", _person(first_name=7_770_123), "7770123"
    ),
    "text where an age is expected": BadRequest(
        "POST", "/v1/cases", _person(estimated_age=f"forty-{MARK}"), f"forty-{MARK}"
    ),
    "a single category instead of a list": BadRequest(
        "POST", "/v1/cases", _case(categories=f"deportee{MARK}"), f"deportee{MARK}"
    ),
    "an ill-formed date": BadRequest(
        "POST",
        "/v1/contacts",
        {**CONTACT, "received_on": f"yesterday-{MARK}"},
        f"yesterday-{MARK}",
    ),
    # An update may leave a field out, not empty a required one.
    "emptying a case's categories": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"categories": None}, "Тахир"
    ),
    "emptying a case's TRM stage": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"trm_stage": None}, "Тахир"
    ),
    "emptying a case's status": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"status": None}, "Тахир"
    ),
    "emptying a case's risk level": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"risk_level": None}, "Тахир"
    ),
    "emptying a case's forms of exploitation": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"exploitation_forms": None}, "Тахир"
    ),
    "emptying a person's sex": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"person": {"sex": None}}, "Тахир"
    ),
    "emptying a person's documents": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"person": {"documents": None}}, "N1234567"
    ),
    "emptying a person's languages": BadRequest(
        "PATCH", "/v1/cases/{case_id}", {"person": {"languages": None}}, "Тахир"
    ),
    # Ids in the path that are no ids.
    "invalid case id in the path": BadRequest(
        "GET", f"/v1/cases/not-a-uuid-{MARK}", None, f"not-a-uuid-{MARK}"
    ),
    "invalid case id when updating": BadRequest(
        "PATCH", f"/v1/cases/not-a-uuid-{MARK}", {"risk_level": "high"}, f"not-a-uuid-{MARK}"
    ),
    "invalid consent id when withdrawing": BadRequest(
        "POST", "/v1/cases/{case_id}/consents/" + f"x{MARK}/withdraw", None, f"x{MARK}"
    ),
    "invalid person id for a family link": BadRequest(
        "POST",
        f"/v1/persons/p-{MARK}/family-links",
        {"related_person_id": str(uuid.uuid4()), "relation": "child"},
        f"p-{MARK}",
    ),
    # Query strings.
    "unknown status in a list filter": BadRequest(
        "GET", f"/v1/cases?status=lost_{MARK}", None, f"lost_{MARK}"
    ),
    "page size out of range": BadRequest("GET", "/v1/cases?limit=100000", None, "100000"),
    # Duplicate decisions and the access log.
    "unknown duplicate decision": BadRequest(
        "PUT",
        f"/v1/cases/{{case_id}}/duplicates/{uuid.UUID(int=7)}",
        {"decision": f"merged_{MARK}"},
        f"merged_{MARK}",
    ),
    "a duplicate decision with a note": BadRequest(
        "PUT",
        f"/v1/cases/{{case_id}}/duplicates/{uuid.UUID(int=7)}",
        {"decision": "confirmed", "note": f"Гульнара{MARK}"},
        f"Гульнара{MARK}",
    ),
    "not a yes or no for dismissed suggestions": BadRequest(
        "GET", f"/v1/cases/{{case_id}}/duplicates?include_dismissed=maybe{MARK}", None, MARK
    ),
    "access log from a time that is none": BadRequest(
        "GET", f"/v1/access-log?from=yesterday{MARK}", None, MARK, user="akt-admin"
    ),
    "access log for a case id that is none": BadRequest(
        "GET", f"/v1/access-log?case_id=case{MARK}", None, MARK, user="akt-manager"
    ),
    "access log for a period that ends before it starts": BadRequest(
        "GET",
        "/v1/access-log?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
        None,
        "2026-03-02",
        user="akt-admin",
    ),
    # Found by tests/fuzz: read as seconds since 1970, the filter silently meant 1970-01-01.
    "a date filter that is a number": BadRequest("GET", "/v1/cases?opened_to=0.0", None, "0.0"),
    "a contact date filter that is a number": BadRequest(
        "GET", "/v1/contacts?received_to=-2.2e-311", None, "-2.2e-311"
    ),
}


@pytest.fixture(scope="module")
async def akt_case_id(intake: Intake, auth: Auth) -> str:
    response = await intake.client.post(
        "/v1/cases", json=CASE, headers=await auth("akt-caseworker")
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _row_counts(intake: Intake) -> dict[str, int]:
    """Rows of every table intake writes on a request, across all tenants."""
    async with intake.admin_engine.connect() as conn:
        tables = (
            await conn.execute(
                text(
                    "SELECT table_name FROM information_schema.columns WHERE table_schema = "
                    "'public' AND column_name = 'tenant_id' ORDER BY 1"
                )
            )
        ).scalars()
        names = [*tables, "outbox"]
    return {name: await intake.count(name) for name in names}


async def _send(
    intake: Intake, bad: BadRequest, headers: dict[str, str], case_id: str
) -> httpx.Response:
    path = bad.path.replace("{case_id}", case_id)
    if isinstance(bad.body, str):
        return await intake.client.request(
            bad.method,
            path,
            content=bad.body.encode(),
            headers={**headers, "Content-Type": "application/json"},
        )
    if bad.body is None:
        return await intake.client.request(bad.method, path, headers=headers)
    return await intake.client.request(bad.method, path, json=bad.body, headers=headers)


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
async def test_bad_input_is_refused_with_a_problem_that_does_not_repeat_it(
    intake: Intake, auth: Auth, akt_case_id: str, name: str
) -> None:
    bad = BAD_REQUESTS[name]
    before = await _row_counts(intake)

    response = await _send(intake, bad, await auth(bad.user), akt_case_id)

    assert response.status_code == 422, (
        f"{name}: expected 422 Unprocessable, got {response.status_code}: {response.text[:300]}"
    )
    assert response.headers["content-type"].startswith("application/problem+json"), (
        f"{name}: the error is not a problem document ({response.headers['content-type']})"
    )
    problem = response.json()
    assert problem["status"] == 422 and problem["title"], f"{name}: incomplete problem {problem}"
    quoted = json.dumps(problem, ensure_ascii=False)
    assert bad.secret not in quoted, f"{name}: the error repeats what was submitted: {quoted}"
    assert await _row_counts(intake) == before, f"{name}: a refused request still wrote rows"


async def test_a_refused_update_leaves_the_case_as_it_was(
    intake: Intake, auth: Auth, akt_case_id: str
) -> None:
    headers = await auth("akt-caseworker")
    before = (await intake.client.get(f"/v1/cases/{akt_case_id}", headers=headers)).json()
    # Valid fields next to an invalid one: none of them may be applied.
    response = await intake.client.patch(
        f"/v1/cases/{akt_case_id}",
        json={"risk_level": "high", "person": {"first_name": "Айгуль", "sex": None}},
        headers=headers,
    )
    assert response.status_code == 422, response.text
    after = (await intake.client.get(f"/v1/cases/{akt_case_id}", headers=headers)).json()
    assert after == before, "a refused update changed the case anyway"


async def test_an_unreadable_page_cursor_is_refused_with_a_problem(
    intake: Intake, auth: Auth
) -> None:
    headers = await auth("akt-caseworker")
    for cursor in ("!!!!", "bm90LWpzb24", "WzEsMiwzXQ"):  # not base64, not JSON, wrong shape
        response = await intake.client.get("/v1/cases", params={"cursor": cursor}, headers=headers)
        assert response.status_code == 400, f"cursor {cursor!r}: {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert cursor not in response.text
