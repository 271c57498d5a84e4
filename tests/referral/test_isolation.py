"""Isolation: a referral between AKT and OSH is invisible to every other NGO and role.

The routes come from the application itself, so a new endpoint is covered the day it is
added, and fails :func:`test_every_endpoint_has_an_example_request` until someone writes the
example request it is called with.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import text

from tests.referral.conftest import PACKAGE, ReferralService
from tirek.web.tenant_export import EXPORT_PATH

#: Case staff of the NGOs that are neither sender (AKT) nor receiver (OSH).
THIRD_NGOS_STAFF = tuple(
    f"{code}-{role}" for code in ("tld", "jal", "nuk") for role in ("caseworker", "manager")
)
#: Users without case access, whatever their NGO: the two NGOs' own administrators included.
NO_CASE_ACCESS = ("coordinator", "platform-admin", "akt-admin", "osh-admin")
#: Open to every authenticated user: the consortium's address book.
DIRECTORY = ("GET", "/v1/directory")


@dataclass(frozen=True)
class Records:
    referral_id: str

    def path(self, template: str) -> str:
        try:
            return template.format(referral_id=self.referral_id)
        except KeyError as missing:
            raise AssertionError(
                f"{template} has a path parameter {missing} this test cannot fill"
            ) from None


Body = Callable[[Records], Any]

#: One valid request body per endpoint (``None``: no body). A new endpoint must be added here.
EXAMPLES: dict[tuple[str, str], Body] = {
    ("POST", "/v1/referrals"): lambda r: {
        "case_id": str(uuid.uuid4()),
        "receiver_tenant": "c78a5adc-53a6-5b82-aae0-8a816ab0a730",
        "services": ["return"],
        "reason": "test",
        "consent_id": str(uuid.uuid4()),
        "fields": ["first_name"],
    },
    ("GET", "/v1/referrals"): lambda r: None,
    ("GET", "/v1/referrals/{referral_id}"): lambda r: None,
    ("GET", "/v1/referrals/{referral_id}/history"): lambda r: None,
    ("POST", "/v1/referrals/{referral_id}/submit"): lambda r: None,
    ("POST", "/v1/referrals/{referral_id}/approve"): lambda r: None,
    ("POST", "/v1/referrals/{referral_id}/accept"): lambda r: {"responsible_user": "intruder"},
    ("POST", "/v1/referrals/{referral_id}/decline"): lambda r: {"reason": "other", "note": "x"},
    ("POST", "/v1/referrals/{referral_id}/start"): lambda r: None,
    ("POST", "/v1/referrals/{referral_id}/complete"): lambda r: {
        "outcomes": {"return": "provided"}
    },
    ("POST", "/v1/referrals/{referral_id}/cancel"): lambda r: {"reason": "other"},
    ("POST", "/v1/referrals/{referral_id}/messages"): lambda r: {"body": "let me in"},
    ("GET", "/v1/referrals/{referral_id}/messages"): lambda r: None,
    ("POST", "/v1/referrals/{referral_id}/return"): lambda r: {"planned_date": "2026-12-01"},
    ("PATCH", "/v1/referrals/{referral_id}/return"): lambda r: {"transport": "air"},
    ("GET", "/v1/referrals/{referral_id}/return"): lambda r: None,
    ("POST", "/v1/referrals/{referral_id}/return/arrived"): lambda r: {},
    DIRECTORY: lambda r: None,
    # The leaving NGO's export (tests/referral/test_offboarding.py); nobody here is leaving.
    ("GET", EXPORT_PATH): lambda r: None,
}


def v1_operations(service: ReferralService) -> list[tuple[str, str]]:
    operations: list[tuple[str, str]] = []
    for route in iter_route_contexts(service.app.routes):
        if not (route.path or "").startswith("/v1"):
            continue
        assert route.methods, f"{route.path} is not an HTTP endpoint this test knows to call"
        operations.extend((method, str(route.path)) for method in route.methods)
    assert operations, "found no /v1 endpoint at all: has the way routes are listed changed?"
    return sorted(operations)


async def call(
    service: ReferralService,
    operation: tuple[str, str],
    records: Records,
    headers: dict[str, str],
) -> httpx.Response:
    method, template = operation
    try:
        example = EXAMPLES[operation]
    except KeyError:
        raise AssertionError(f"{method} {template} has no example request in EXAMPLES") from None
    body = example(records)
    return await service.client.request(
        method, records.path(template), headers=headers, **({"json": body} if body else {})
    )


def assert_problem(response: httpx.Response, status: int, what: str) -> None:
    assert response.status_code == status, (
        f"{what}: expected {status}, got {response.status_code}: {response.text[:300]}"
    )
    assert response.headers["content-type"].startswith("application/problem+json"), what


async def snapshot(service: ReferralService) -> dict[str, list[str]]:
    """Every row of every table (the outbox included): nothing may change on a refusal."""
    rows: dict[str, list[str]] = {}
    async with service.admin_engine.connect() as conn:
        tables = (
            await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename NOT IN ('inbox', 'alembic_version') ORDER BY 1"
                )
            )
        ).scalars()
        for table in list(tables):
            result = await conn.execute(
                text(
                    f"SELECT (to_jsonb(t) - 'published_at' - 'attempts' - 'last_error')::text "
                    f"FROM {table} t ORDER BY 1"
                )
            )
            rows[table] = list(result.scalars())
    return rows


@pytest.fixture(scope="module")
async def records(referral: ReferralService) -> Records:
    """A referral AKT → OSH that went all the way: package, messages, a return plan."""
    sent = await referral.sent()
    rid = sent["id"]
    await referral.act("osh-caseworker", rid, "accept", {"responsible_user": "u-9"})
    for user, body in (("akt-caseworker", "Her sister will meet her."), ("osh-caseworker", "OK")):
        response = await referral.client.post(
            f"/v1/referrals/{rid}/messages", headers=await referral.auth(user), json={"body": body}
        )
        assert response.status_code == 201
    response = await referral.client.post(
        f"/v1/referrals/{rid}/return",
        headers=await referral.auth("akt-caseworker"),
        json={"planned_date": "2026-12-20", "border_crossing": "Dostuk", "met_by": "her sister"},
    )
    assert response.status_code == 201, response.text
    await referral.wait_published()
    return Records(referral_id=rid)


def test_every_endpoint_has_an_example_request(referral: ReferralService) -> None:
    operations = set(v1_operations(referral))
    missing = sorted(operations - EXAMPLES.keys())
    stale = sorted(EXAMPLES.keys() - operations)
    assert not missing, f"endpoints without an example request in EXAMPLES: {missing}"
    assert not stale, f"EXAMPLES names endpoints the service no longer has: {stale}"


async def test_a_third_ngo_gets_not_found_for_the_referral_everywhere_and_changes_nothing(
    referral: ReferralService, records: Records
) -> None:
    operations = [op for op in v1_operations(referral) if "{" in op[1]]
    before = await snapshot(referral)
    nobody = Records(referral_id=str(uuid.uuid4()))
    for user in THIRD_NGOS_STAFF:
        headers = await referral.auth(user)
        for operation in operations:
            what = f"{user}: {' '.join(operation)} on AKT→OSH's referral"
            response = await call(referral, operation, records, headers)
            assert_problem(response, 404, what)
            missing = await call(referral, operation, nobody, headers)
            assert_problem(missing, 404, f"{user}: {' '.join(operation)} with an unknown id")
            assert {k: response.json().get(k) for k in ("type", "title", "detail")} == {
                k: missing.json().get(k) for k in ("type", "title", "detail")
            }, f"{what}: the answer tells the referral apart from a missing one"
            for secret in (PACKAGE["second_name"], "sister", "Dostuk"):
                assert secret not in response.text, f"{what}: leaked {secret!r}"
    assert await snapshot(referral) == before, "a third NGO's requests changed something"


async def test_lists_show_a_third_ngo_nothing_of_the_referral(
    referral: ReferralService, records: Records
) -> None:
    own = await referral.client.get(
        "/v1/referrals?direction=incoming&limit=200", headers=await referral.auth("osh-caseworker")
    )
    assert records.referral_id in own.text, "the receiver does not see its incoming referral"
    for user in THIRD_NGOS_STAFF:
        for query in ("", "?direction=incoming", "?direction=outgoing", "?state=accepted"):
            response = await referral.client.get(
                f"/v1/referrals{query}", headers=await referral.auth(user)
            )
            assert response.status_code == 200, response.text
            assert records.referral_id not in response.text, f"{user} sees the referral"


async def test_roles_without_case_access_are_refused_on_every_referral_endpoint(
    referral: ReferralService, records: Records
) -> None:
    before = await snapshot(referral)
    for user in NO_CASE_ACCESS:
        headers = await referral.auth(user)
        for operation in v1_operations(referral):
            response = await call(referral, operation, records, headers)
            if operation == DIRECTORY:
                assert response.status_code == 200, f"{user} cannot read the directory"
                continue
            if operation[1] == EXPORT_PATH and user in ("akt-admin", "osh-admin"):
                # Its own NGO's administrator: refused only because the NGO is not leaving.
                assert_problem(response, 409, f"{user}: {' '.join(operation)}")
                continue
            assert_problem(response, 403, f"{user}: {' '.join(operation)}")
    assert await snapshot(referral) == before, "refused requests changed something"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", "Basic YWt0LWNhc2V3b3JrZXI6ZGVtbw=="],
    ids=["no token", "garbage token", "password instead of token"],
)
async def test_requests_without_a_valid_token_are_refused_on_every_endpoint(
    referral: ReferralService, records: Records, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    for operation in v1_operations(referral):
        response = await call(referral, operation, records, headers)
        assert_problem(response, 401, f"{' '.join(operation)} with {authorization!r}")


async def test_the_database_refuses_the_referral_to_a_third_ngo_even_without_a_filter(
    referral: ReferralService, records: Records
) -> None:
    """Row-level security underneath: the application role, scoped to JAL, reads no row of the
    referral's tables even with no WHERE clause; with no tenant set, it reads nothing at all."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.referral.conftest import AKT, JAL
    from tirek.db import UnitOfWork, session_factory

    engine = create_async_engine(referral.settings.db_url)
    tables = ("referrals", "referral_transitions", "share_packages", "referral_messages")
    try:
        sessions = session_factory(engine)
        for tenant, expected_visible in ((JAL, False), (None, False), (AKT, True)):
            async with UnitOfWork(sessions, tenant) as session:
                for table in (*tables, "return_plans"):
                    count = (
                        await session.execute(
                            text(f"SELECT count(*) FROM {table} WHERE referral_id = :r")
                            if table != "referrals"
                            else text("SELECT count(*) FROM referrals WHERE id = :r"),
                            {"r": records.referral_id},
                        )
                    ).scalar_one()
                    assert (count > 0) == expected_visible, f"{tenant}: {table} shows {count}"
    finally:
        await engine.dispose()


async def test_case_staff_never_download_the_tenant_export(
    referral: ReferralService, records: Records
) -> None:
    for user in (*THIRD_NGOS_STAFF, "akt-caseworker", "akt-manager", "osh-manager"):
        response = await referral.client.get(EXPORT_PATH, headers=await referral.auth(user))
        assert_problem(response, 403, f"{user}: GET {EXPORT_PATH}")
        assert records.referral_id not in response.text
