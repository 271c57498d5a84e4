"""Isolation: every /v1 endpoint, called by every other NGO and every role, leaks nothing.

The routes come from the application itself, so a new endpoint is covered the day it is
added, and fails :func:`test_every_endpoint_has_an_example_request` until someone writes the
example request it is called with.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import text

from tests.intake.conftest import Intake
from tests.intake.test_cases import CASE
from tirek.demo.consortium import tenant_by_code
from tirek.web.tenant_export import EXPORT_PATH

Auth = Callable[[str], Awaitable[dict[str, str]]]

AKT = tenant_by_code("AKT").id
OSH = tenant_by_code("OSH").id

#: Case staff of every NGO but AKT: none of them may touch AKT's records.
OTHER_NGOS_STAFF = tuple(
    f"{code}-{role}" for code in ("tld", "osh", "jal", "nuk") for role in ("caseworker", "manager")
)
#: Users without case access, whatever their NGO: AKT's own administrator included.
NO_CASE_ACCESS = ("coordinator", "platform-admin", "akt-admin", "osh-admin")


@dataclass(frozen=True)
class AktRecords:
    """What AKT registered: the ids other NGOs will try."""

    case_id: str
    person_id: str
    child_case_id: str
    child_person_id: str
    consent_id: str
    assistance_id: str
    contact_id: str

    def path(self, template: str) -> str:
        try:
            return template.format(
                case_id=self.case_id,
                person_id=self.person_id,
                consent_id=self.consent_id,
                other_case_id=self.child_case_id,
            )
        except KeyError as missing:
            raise AssertionError(
                f"{template} has a path parameter {missing} this test cannot fill: add AKT's "
                "record of that kind to AktRecords"
            ) from None


Body = Callable[[AktRecords], Any]

#: One valid request body per endpoint (``None``: no body). A new endpoint must be added here.
EXAMPLES: dict[tuple[str, str], Body] = {
    ("POST", "/v1/cases"): lambda akt: copy.deepcopy(CASE),
    ("GET", "/v1/cases"): lambda akt: None,
    ("GET", "/v1/cases/{case_id}"): lambda akt: None,
    ("PATCH", "/v1/cases/{case_id}"): lambda akt: {
        "risk_level": "high",
        "person": {"first_name": "Чужой"},
    },
    ("POST", "/v1/cases/{case_id}/close"): lambda akt: {"reason": "contact_lost"},
    ("POST", "/v1/cases/{case_id}/assistance"): lambda akt: {
        "type": "legal_aid",
        "mode": "office",
        "provided_on": "2026-03-12",
    },
    ("GET", "/v1/cases/{case_id}/assistance"): lambda akt: None,
    ("POST", "/v1/cases/{case_id}/consents"): lambda akt: {
        "purpose": "reporting",
        "scope": ["sex", "categories"],
        "method": "oral_recorded",
        "given_at": "2026-03-12T09:00:00+05:00",
    },
    ("GET", "/v1/cases/{case_id}/consents"): lambda akt: None,
    ("POST", "/v1/cases/{case_id}/consents/{consent_id}/withdraw"): lambda akt: {
        "reason": "changed her mind"
    },
    ("POST", "/v1/contacts"): lambda akt: {"received_on": "2026-03-12", "topic": "labour_rights"},
    ("GET", "/v1/contacts"): lambda akt: None,
    ("POST", "/v1/persons/{person_id}/family-links"): lambda akt: {
        "related_person_id": akt.child_person_id,
        "relation": "child",
    },
    ("GET", "/v1/persons/{person_id}/family-links"): lambda akt: None,
    ("GET", "/v1/cases/{case_id}/duplicates"): lambda akt: None,
    ("PUT", "/v1/cases/{case_id}/duplicates/{other_case_id}"): lambda akt: {
        "decision": "dismissed"
    },
    ("GET", "/v1/access-log"): lambda akt: None,
    ("POST", "/v1/persons/{person_id}/erasure"): lambda akt: {"confirm_person_id": akt.person_id},
    ("GET", "/v1/persons/{person_id}/export"): lambda akt: None,
    ("GET", "/v1/retention-policy"): lambda akt: None,
    ("PUT", "/v1/retention-policy"): lambda akt: {"erase_after_years": 7},
    ("GET", "/v1/retention-policy/due"): lambda akt: None,
}

#: Endpoints not for every member of case staff, and the roles that may call them. Every other
#: endpoint is for caseworkers and case managers.
ROLES: dict[tuple[str, str], tuple[str, ...]] = {
    ("POST", "/v1/cases/{case_id}/close"): ("manager",),
    ("POST", "/v1/persons/{person_id}/erasure"): ("manager",),
    ("GET", "/v1/retention-policy"): ("manager", "admin"),
    ("GET", "/v1/retention-policy/due"): ("manager", "admin"),
    ("PUT", "/v1/retention-policy"): ("admin",),
    # An NGO's administrators and case managers read its access log; caseworkers do not.
    ("GET", "/v1/access-log"): ("manager", "admin"),
}


def role_of(user: str) -> str:
    """The role of a demo user: ``akt-manager`` -> ``manager``; coordinators and platform
    administrators belong to no NGO's staff."""
    return user if user in ("coordinator", "platform-admin") else user.rsplit("-", 1)[1]


def allowed(user: str, operation: tuple[str, str]) -> bool:
    return role_of(user) in ROLES.get(operation, ("caseworker", "manager"))


def v1_operations(intake: Intake) -> list[tuple[str, str]]:
    """Every (method, path template) the application answers under /v1.

    ``app.routes`` nests included routers (FastAPI >= 0.137); ``iter_route_contexts`` is
    FastAPI's public way to flatten them.
    """
    operations: list[tuple[str, str]] = []
    for route in iter_route_contexts(intake.app.routes):
        if not (route.path or "").startswith("/v1") or route.path == EXPORT_PATH:
            # The offboarding export has its own rule and its own test below.
            continue
        assert route.methods, f"{route.path} is not an HTTP endpoint this test knows to call"
        operations.extend((method, str(route.path)) for method in route.methods)
    assert operations, "found no /v1 endpoint at all: has the way routes are listed changed?"
    return sorted(operations)


def by_id(operation: tuple[str, str]) -> bool:
    return "{" in operation[1]


async def call(
    intake: Intake, operation: tuple[str, str], akt: AktRecords, headers: dict[str, str]
) -> httpx.Response:
    method, template = operation
    try:
        example = EXAMPLES[operation]
    except KeyError:
        raise AssertionError(f"{method} {template} has no example request in EXAMPLES") from None
    body = example(akt)
    return await intake.client.request(
        method,
        akt.path(template),
        headers=headers,
        **({"json": body} if body is not None else {}),
    )


async def tenant_rows(intake: Intake, tenant_id: uuid.UUID) -> dict[str, list[str]]:
    """Every row a tenant owns, in every table with a tenant_id, plus its events in the outbox."""
    rows: dict[str, list[str]] = {}
    async with intake.admin_engine.connect() as conn:
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.columns WHERE table_schema = "
                        "'public' AND column_name = 'tenant_id' ORDER BY 1"
                    )
                )
            )
            .scalars()
            .all()
        )
        assert "cases" in tables and "persons" in tables
        for table in tables:
            result = await conn.execute(
                text(f"SELECT to_jsonb(t)::text FROM {table} t WHERE tenant_id = :t ORDER BY 1"),
                {"t": tenant_id},
            )
            rows[table] = list(result.scalars())
        result = await conn.execute(
            text("SELECT id::text FROM outbox WHERE payload->>'tenant' = :t ORDER BY 1"),
            {"t": str(tenant_id)},
        )
        rows["outbox"] = list(result.scalars())
    return rows


async def all_row_counts(intake: Intake) -> dict[str, int]:
    async with intake.admin_engine.connect() as conn:
        tables = (
            (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
                )
            )
            .scalars()
            .all()
        )
    return {table: await intake.count(table) for table in tables}


def assert_problem(response: httpx.Response, status: int, what: str) -> None:
    assert response.status_code == status, (
        f"{what}: expected {status}, got {response.status_code}: {response.text[:300]}"
    )
    assert response.headers["content-type"].startswith("application/problem+json"), (
        f"{what}: the answer is not a problem document"
    )
    assert response.json()["status"] == status


@pytest.fixture(scope="module")
async def akt(intake: Intake, auth: Auth) -> AktRecords:
    headers = await auth("akt-caseworker")

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await intake.client.post(path, json=body, headers=headers)
        assert response.status_code == 201, f"{path}: {response.text}"
        result: dict[str, Any] = response.json()
        return result

    case = await post("/v1/cases", CASE)
    child = await post(
        "/v1/cases",
        {
            **CASE,
            "person": {"first_name": "Малика", "sex": "female", "estimated_age": 6},
            "categories": ["child_of_migrant"],
        },
    )
    consent = await post(
        f"/v1/cases/{case['id']}/consents",
        {
            "purpose": "referral",
            "scope": ["first_name", "documents"],
            "method": "written",
            "recipient_tenant": str(OSH),
            "given_at": "2026-03-10T12:00:00+05:00",
        },
    )
    assistance = await post(
        f"/v1/cases/{case['id']}/assistance",
        {"type": "document_restoration", "mode": "office", "provided_on": "2026-03-11"},
    )
    await post(
        f"/v1/persons/{case['person']['id']}/family-links",
        {"related_person_id": child["person"]["id"], "relation": "child"},
    )
    contact = await post("/v1/contacts", {"received_on": "2026-03-11", "topic": "violence"})
    # A read, so that AKT's access log has an entry about its case that could leak.
    read = await intake.client.get(f"/v1/cases/{case['id']}", headers=headers)
    assert read.status_code == 200, read.text
    return AktRecords(
        case_id=case["id"],
        person_id=case["person"]["id"],
        child_case_id=child["id"],
        child_person_id=child["person"]["id"],
        consent_id=consent["id"],
        assistance_id=assistance["id"],
        contact_id=contact["id"],
    )


def test_every_endpoint_has_an_example_request(intake: Intake) -> None:
    operations = set(v1_operations(intake))
    assert operations, "intake answers no /v1 route at all"
    missing = sorted(operations - EXAMPLES.keys())
    stale = sorted(EXAMPLES.keys() - operations)
    assert not missing, f"endpoints without an example request in EXAMPLES: {missing}"
    assert not stale, f"EXAMPLES names endpoints intake no longer has: {stale}"


async def test_another_ngo_gets_not_found_for_every_record_of_akt_and_changes_nothing(
    intake: Intake, auth: Auth, akt: AktRecords
) -> None:
    operations = [op for op in v1_operations(intake) if by_id(op)]
    akt_before = await tenant_rows(intake, AKT)
    counts_before = await all_row_counts(intake)
    nobody = AktRecords(*(str(uuid.uuid4()) for _ in range(7)))

    for user in OTHER_NGOS_STAFF:
        headers = await auth(user)
        for operation in operations:
            what = f"{user}: {' '.join(operation)} with AKT's ids"
            response = await call(intake, operation, akt, headers)
            if not allowed(user, operation):
                assert_problem(response, 403, what)  # the role is checked before all else
                continue
            assert_problem(response, 404, what)
            # A record of another NGO looks exactly like one that does not exist.
            missing = await call(intake, operation, nobody, headers)
            assert_problem(missing, 404, f"{user}: {' '.join(operation)} with unknown ids")
            assert {k: response.json().get(k) for k in ("type", "title", "detail")} == {
                k: missing.json().get(k) for k in ("type", "title", "detail")
            }, f"{what}: the answer tells AKT's record apart from a missing one"

    assert await tenant_rows(intake, AKT) == akt_before, "another NGO changed AKT's records"
    assert await all_row_counts(intake) == counts_before, "refused requests wrote rows"
    case = await intake.client.get(f"/v1/cases/{akt.case_id}", headers=await auth("akt-caseworker"))
    assert case.json()["status"] == "active" and case.json()["revision"] == 1, (
        "AKT's case was changed by another NGO"
    )


async def test_lists_show_another_ngo_none_of_akts_records(
    intake: Intake, auth: Auth, akt: AktRecords
) -> None:
    lists = [op for op in v1_operations(intake) if op[0] == "GET" and not by_id(op)]
    assert ("GET", "/v1/cases") in lists and ("GET", "/v1/contacts") in lists
    assert ("GET", "/v1/access-log") in lists
    akt_ids = {akt.case_id, akt.contact_id, akt.person_id, akt.consent_id, akt.assistance_id}
    # AKT itself sees them, so the lists below could show them if they leaked.
    own = await intake.client.get("/v1/cases?limit=200", headers=await auth("akt-caseworker"))
    assert akt.case_id in own.text
    own_log = await intake.client.get("/v1/access-log?limit=200", headers=await auth("akt-admin"))
    assert akt.case_id in own_log.text, "AKT's own log does not show the read of its case"

    other_admins = tuple(f"{code}-admin" for code in ("tld", "osh", "jal", "nuk"))
    for user in OTHER_NGOS_STAFF + other_admins:
        headers = await auth(user)
        for method, path in lists:
            if not allowed(user, (method, path)):
                continue
            response = await intake.client.request(method, f"{path}?limit=200", headers=headers)
            assert response.status_code == 200, f"{user}: {path}: {response.text[:300]}"
            leaked = [i for i in akt_ids if i in response.text]
            assert not leaked, f"{user} sees AKT's records in {path}: {leaked}"


async def test_records_created_by_another_ngo_belong_to_that_ngo_only(
    intake: Intake, auth: Auth, akt: AktRecords
) -> None:
    creations = [op for op in v1_operations(intake) if op[0] == "POST" and not by_id(op)]
    assert creations, "no endpoint creates records"
    akt_before = await tenant_rows(intake, AKT)
    osh_before = await tenant_rows(intake, OSH)
    headers = await auth("osh-caseworker")
    for operation in creations:
        response = await call(intake, operation, akt, headers)
        assert response.status_code == 201, f"{' '.join(operation)}: {response.text[:300]}"
        if operation[1] == "/v1/cases":
            assert response.json()["number"].startswith("KG-OSH-")
    osh_after = await tenant_rows(intake, OSH)
    assert await tenant_rows(intake, AKT) == akt_before, "OSH's requests changed AKT's records"
    assert len(osh_after["outbox"]) == len(osh_before["outbox"]) + len(creations), (
        "every creation by OSH should publish one event in OSH's name"
    )


async def test_roles_without_access_are_refused_on_every_endpoint(
    intake: Intake, auth: Auth, akt: AktRecords
) -> None:
    operations = v1_operations(intake)
    counts_before = await all_row_counts(intake)
    refused = 0
    for user in (*NO_CASE_ACCESS, "akt-caseworker", "akt-manager"):
        headers = await auth(user)
        for operation in operations:
            if allowed(user, operation):
                continue
            response = await call(intake, operation, akt, headers)
            assert_problem(response, 403, f"{user}: {' '.join(operation)}")
            refused += 1
    assert refused > 3 * len(operations), "fewer refusals than roles without access"
    assert await all_row_counts(intake) == counts_before, "refused requests wrote rows"


async def test_a_retention_policy_is_the_ngos_own(intake: Intake, auth: Auth) -> None:
    set_akt = await intake.client.put(
        "/v1/retention-policy", json={"erase_after_years": 9}, headers=await auth("akt-admin")
    )
    assert set_akt.status_code == 200, set_akt.text
    set_osh = await intake.client.put(
        "/v1/retention-policy", json={"erase_after_years": 3}, headers=await auth("osh-admin")
    )
    assert set_osh.status_code == 200, set_osh.text
    for user, years in (("akt-manager", 9), ("osh-admin", 3), ("akt-admin", 9)):
        response = await intake.client.get("/v1/retention-policy", headers=await auth(user))
        assert response.status_code == 200, response.text
        assert response.json()["erase_after_years"] == years, f"{user} sees another NGO's policy"
    # Put back what the other tests expect: no automatic erasure.
    for user in ("akt-admin", "osh-admin"):
        response = await intake.client.put(
            "/v1/retention-policy", json={"erase_after_years": None}, headers=await auth(user)
        )
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-token",
        "Bearer ",
        "Basic YWt0LWNhc2V3b3JrZXI6ZGVtbw==",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ],
    ids=["no token", "garbage token", "empty token", "password instead of token", "unsigned"],
)
async def test_requests_without_a_valid_token_are_refused_on_every_endpoint(
    intake: Intake, akt: AktRecords, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    counts_before = await all_row_counts(intake)
    for operation in v1_operations(intake):
        response = await call(intake, operation, akt, headers)
        assert_problem(response, 401, f"{' '.join(operation)} with {authorization!r}")
        assert response.headers.get("www-authenticate", "").lower().startswith("bearer"), (
            "a 401 must tell the client to send a bearer token"
        )
    assert await all_row_counts(intake) == counts_before, "unauthenticated requests wrote rows"


async def _new_akt_case(intake: Intake, auth: Auth) -> dict[str, Any]:
    response = await intake.client.post(
        "/v1/cases", json=CASE, headers=await auth("akt-caseworker")
    )
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


async def test_only_a_case_manager_closes_a_case(intake: Intake, auth: Auth) -> None:
    case = await _new_akt_case(intake, auth)
    path = f"/v1/cases/{case['id']}/close"
    body = {"reason": "assistance_completed"}

    refused = await intake.client.post(path, json=body, headers=await auth("akt-caseworker"))
    assert_problem(refused, 403, "a caseworker closing a case")
    still = await intake.client.get(f"/v1/cases/{case['id']}", headers=await auth("akt-caseworker"))
    assert still.json()["status"] == "active", "the case was closed by a caseworker"

    closed = await intake.client.post(path, json=body, headers=await auth("akt-manager"))
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"


async def test_only_a_case_manager_reassigns_a_case(intake: Intake, auth: Auth) -> None:
    case = await _new_akt_case(intake, auth)
    path = f"/v1/cases/{case['id']}"
    colleague = str(uuid.uuid4())

    refused = await intake.client.patch(
        path, json={"assigned_to": colleague}, headers=await auth("akt-caseworker")
    )
    assert_problem(refused, 403, "a caseworker reassigning a case")
    still = await intake.client.get(path, headers=await auth("akt-caseworker"))
    assert still.json()["assigned_to"] == case["assigned_to"], "a caseworker reassigned the case"

    # A caseworker may still change everything else on the case.
    edited = await intake.client.patch(
        path, json={"risk_level": "high"}, headers=await auth("akt-caseworker")
    )
    assert edited.status_code == 200, edited.text

    reassigned = await intake.client.patch(
        path, json={"assigned_to": colleague}, headers=await auth("akt-manager")
    )
    assert reassigned.status_code == 200, reassigned.text
    assert reassigned.json()["assigned_to"] == colleague


async def test_the_tenant_export_answers_only_a_leaving_ngos_own_administrators(
    intake: Intake, auth: Auth, akt: AktRecords
) -> None:
    """No NGO here is leaving: administrators get 409, every other role 403, and no answer
    holds a record (the leaving NGO's own download: test_offboarding)."""
    assert EXPORT_PATH in {route.path for route in iter_route_contexts(intake.app.routes)}
    counts_before = await all_row_counts(intake)
    for user in (*OTHER_NGOS_STAFF, "akt-caseworker", "akt-manager", *NO_CASE_ACCESS):
        response = await intake.client.get(EXPORT_PATH, headers=await auth(user))
        expected = 409 if user.endswith("-admin") and user != "platform-admin" else 403
        assert_problem(response, expected, f"{user}: GET {EXPORT_PATH}")
        assert akt.case_id not in response.text and akt.person_id not in response.text
    assert await all_row_counts(intake) == counts_before
