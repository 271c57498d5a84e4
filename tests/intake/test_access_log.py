"""The access log: every read of a case's personal data is recorded (who, when, which case,
which fields, why), in the read's transaction, one INSERT per answer; an NGO's admins and
case managers read their own log, nobody else's; the application role cannot rewrite it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from intake.access_log import fields
from tests.intake.conftest import Intake
from tests.intake.test_cases import Auth, register
from tirek.demo.consortium import USERS, tenant_by_code

AKT = tenant_by_code("AKT").id
LOGGED_READS = (
    ("GET", "/v1/cases/{case_id}", None),
    ("GET", "/v1/cases", None),
    ("PATCH", "/v1/cases/{case_id}", {"risk_level": "low"}),
    ("GET", "/v1/cases/{case_id}/assistance", None),
    ("GET", "/v1/cases/{case_id}/consents", None),
    ("GET", "/v1/persons/{person_id}/family-links", None),
)


def user_id(username: str) -> str:
    return next(str(u.id) for u in USERS if u.username == username)


async def log_of(
    intake: Intake, auth: Auth, reader: str = "akt-admin", **params: Any
) -> list[dict[str, Any]]:
    response = await intake.client.get(
        "/v1/access-log", params={"limit": 200, **params}, headers=await auth(reader)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@contextmanager
def statements_to_access_log(intake: Intake) -> Iterator[list[str]]:
    """Every SQL statement the application sends that writes the access log, while open."""
    seen: list[str] = []
    engine = intake.app.state.engine.sync_engine

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "INSERT INTO access_log" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def test_reading_a_case_records_who_which_fields_and_the_stated_purpose(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth)
    assert await log_of(intake, auth, case_id=case["id"]) == [], "registering is not a read"

    headers = {**await auth("akt-caseworker"), "X-Access-Purpose": "legal_proceedings"}
    response = await intake.client.get(f"/v1/cases/{case['id']}", headers=headers)
    assert response.status_code == 200, response.text

    [entry] = await log_of(intake, auth, case_id=case["id"])
    assert entry["user_id"] == user_id("akt-caseworker")
    assert "caseworker" in entry["roles"]
    assert entry["case_id"] == case["id"]
    assert entry["purpose"] == "legal_proceedings"
    assert entry["operation"] == "case.read"
    assert entry["fields"] == list(fields.CASE)
    assert {"first_name", "birth_date", "documents", "phone", "notes"} <= set(entry["fields"])


async def test_a_read_without_a_stated_purpose_is_routine_case_work(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth)
    response = await intake.client.get(f"/v1/cases/{case['id']}", headers=await auth("akt-manager"))
    assert response.status_code == 200, response.text
    [entry] = await log_of(intake, auth, "akt-manager", case_id=case["id"])
    assert entry["purpose"] == "case_work"
    assert entry["user_id"] == user_id("akt-manager") and "case_manager" in entry["roles"]


async def test_a_listing_records_one_entry_per_case_in_one_insert(
    intake: Intake, auth: Auth
) -> None:
    # Cases opened on a day no other test uses: the listing returns exactly these.
    day = "2009-09-09"
    cases = [await register(intake, auth, "tld-caseworker", opened_on=day) for _ in range(3)]
    headers = {**await auth("tld-caseworker"), "X-Access-Purpose": "supervision"}
    with statements_to_access_log(intake) as inserts:
        response = await intake.client.get(
            "/v1/cases", params={"opened_from": day, "opened_to": day}, headers=headers
        )
    assert response.status_code == 200, response.text
    listed = {item["id"] for item in response.json()["items"]}
    assert listed == {c["id"] for c in cases}
    assert all(item["person"]["first_name"] == "Тахир" for item in response.json()["items"])
    assert len(inserts) == 1, f"a page of 3 cases wrote the log in {len(inserts)} statements"

    entries = [e for c in cases for e in await log_of(intake, auth, "tld-admin", case_id=c["id"])]
    assert len(entries) == 3, "expected one entry per listed case"
    assert {e["operation"] for e in entries} == {"case.list"}
    assert {e["purpose"] for e in entries} == {"supervision"}
    assert all(e["fields"] == list(fields.NAMES) for e in entries)
    assert len({e["at"] for e in entries}) == 1, "one listing, one moment"


async def test_fifty_cases_listed_cost_one_insert(intake: Intake, auth: Auth) -> None:
    for _ in range(50):
        await register(intake, auth, "jal-manager", opened_on="2008-08-08")
    with statements_to_access_log(intake) as inserts:
        response = await intake.client.get(
            "/v1/cases",
            params={"opened_from": "2008-08-08", "opened_to": "2008-08-08", "limit": 50},
            headers=await auth("jal-manager"),
        )
    assert response.status_code == 200 and len(response.json()["items"]) == 50
    assert len(inserts) == 1, f"50 cases cost {len(inserts)} statements"
    counted = await intake.count(
        "access_log",
        "operation = 'case.list' AND case_id = ANY(CAST(:ids AS uuid[]))",
        ids=[item["id"] for item in response.json()["items"]],
    )
    assert counted == 50


async def test_assistance_consents_family_links_and_updates_are_logged_too(
    intake: Intake, auth: Auth
) -> None:
    mother = await register(intake, auth, "nuk-caseworker")
    child = await register(
        intake,
        auth,
        "nuk-caseworker",
        person={"first_name": "Малика", "sex": "female", "estimated_age": 6},
    )
    headers = await auth("nuk-caseworker")
    linked = await intake.client.post(
        f"/v1/persons/{mother['person']['id']}/family-links",
        json={"related_person_id": child["person"]["id"], "relation": "child"},
        headers=headers,
    )
    assert linked.status_code == 201, linked.text
    for path in (
        f"/v1/cases/{mother['id']}/assistance",
        f"/v1/cases/{mother['id']}/consents",
        f"/v1/persons/{mother['person']['id']}/family-links",
    ):
        response = await intake.client.get(path, headers=headers)
        assert response.status_code == 200, f"{path}: {response.text}"
    patched = await intake.client.patch(
        f"/v1/cases/{mother['id']}", json={"risk_level": "high"}, headers=headers
    )
    assert patched.status_code == 200, patched.text

    mothers = {
        e["operation"]: e for e in await log_of(intake, auth, "nuk-admin", case_id=mother["id"])
    }
    assert set(mothers) == {"assistance.read", "consents.read", "family_links.read", "case.update"}
    assert mothers["assistance.read"]["fields"] == list(fields.ASSISTANCE)
    assert mothers["consents.read"]["fields"] == list(fields.CONSENTS)
    assert mothers["case.update"]["fields"] == list(fields.CASE)
    # The links name the child too: the child's case is logged as read.
    childs = await log_of(intake, auth, "nuk-admin", case_id=child["id"])
    assert [e["operation"] for e in childs] == ["family_links.read"]


async def test_the_log_filters_by_user_and_period_and_pages_with_a_cursor(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth)
    for user in ("akt-caseworker", "akt-manager", "akt-caseworker"):
        response = await intake.client.get(f"/v1/cases/{case['id']}", headers=await auth(user))
        assert response.status_code == 200
    everything = await log_of(intake, auth, case_id=case["id"])
    assert len(everything) == 3
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)

    mine = await log_of(intake, auth, case_id=case["id"], user=user_id("akt-manager"))
    assert [e["id"] for e in mine] == [everything[1]["id"]]
    window = await log_of(
        intake, auth, case_id=case["id"], **{"from": everything[1]["at"], "to": everything[0]["at"]}
    )
    assert [e["id"] for e in window] == [everything[0]["id"], everything[1]["id"]]

    pages: list[str] = []
    cursor: str | None = None
    headers = await auth("akt-manager")
    while True:
        params: dict[str, Any] = {"case_id": case["id"], "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await intake.client.get("/v1/access-log", params=params, headers=headers)).json()
        pages += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [e["id"] for e in everything]


async def test_another_ngo_never_sees_the_log_and_a_caseworker_reads_none(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth)
    read = await intake.client.get(f"/v1/cases/{case['id']}", headers=await auth("akt-caseworker"))
    assert read.status_code == 200
    assert len(await log_of(intake, auth, case_id=case["id"])) == 1

    for reader in ("osh-admin", "osh-manager", "tld-admin"):
        assert await log_of(intake, auth, reader, case_id=case["id"]) == [], reader
        everything = await log_of(intake, auth, reader)
        assert case["id"] not in {e["case_id"] for e in everything}, f"{reader} sees AKT's log"
    for reader in ("akt-caseworker", "coordinator", "platform-admin"):
        response = await intake.client.get(
            "/v1/access-log", params={"case_id": case["id"]}, headers=await auth(reader)
        )
        assert response.status_code == 403, f"{reader}: {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_log_holds_no_personal_value(intake: Intake, auth: Auth) -> None:
    case = await register(intake, auth)
    await intake.client.get(f"/v1/cases/{case['id']}", headers=await auth("akt-caseworker"))
    async with intake.admin_engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    text("SELECT to_jsonb(a)::text FROM access_log a WHERE case_id = :id"),
                    {"id": uuid.UUID(case["id"])},
                )
            )
            .scalars()
            .all()
        )
    assert rows
    for personal in ("Тахир", "Сабиров", "Sabirov", "N1234567", "+77011234567", "1998-04-02"):
        assert all(personal not in row for row in rows), f"the log holds {personal}"


@pytest.mark.parametrize(("method", "template", "body"), LOGGED_READS)
async def test_an_unknown_purpose_is_refused_and_nothing_is_read_or_changed(
    intake: Intake, auth: Auth, method: str, template: str, body: dict[str, Any] | None
) -> None:
    case = await register(intake, auth)
    path = template.format(case_id=case["id"], person_id=case["person"]["id"])
    before = await intake.count("access_log")
    for purpose in ("curiosity-Сабиров".encode(), b"CASE_WORK", b"", b"case_work, audit"):
        headers: dict[str, Any] = {**await auth("akt-manager"), "X-Access-Purpose": purpose}
        response = await intake.client.request(
            method, path, headers=headers, **({"json": body} if body else {})
        )
        assert response.status_code == 422, f"{purpose!r}: {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "Сабиров" not in response.text and "curiosity" not in response.text
    assert await intake.count("access_log") == before, "a refused read was logged"
    unchanged = await intake.client.get(
        f"/v1/cases/{case['id']}", headers=await auth("akt-manager")
    )
    assert unchanged.json()["revision"] == 1 and unchanged.json()["risk_level"] == "medium"


@pytest.mark.parametrize(
    "params",
    [
        {"case_id": "not-a-uuid"},
        {"from": "yesterday"},
        {"to": "2026-13-40T00:00:00Z"},
        {"to": "2026-02-30"},
        {"from": "2" * 41},
        {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        {"limit": 0},
        {"limit": 100000},
        {"cursor": "not-a-cursor"},
        {"cursor": "x" * 300},
        {"user": "u" * 65},
        {"user": ""},
        {"user": "a\u0000b"},
    ],
    ids=lambda p: ",".join(p),
)
async def test_bad_log_queries_get_problem_details(
    intake: Intake, auth: Auth, params: dict[str, Any]
) -> None:
    before = await intake.count("access_log")
    response = await intake.client.get(
        "/v1/access-log", params=params, headers=await auth("akt-admin")
    )
    assert 400 <= response.status_code < 500, f"{params}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await intake.count("access_log") == before


@pytest.fixture(scope="module")
async def app_engine(intake: Intake) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(intake.db.app_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE access_log SET purpose = 'audit' WHERE case_id = :id",
        "UPDATE access_log SET user_id = 'someone-else'",
        "DELETE FROM access_log WHERE case_id = :id",
        "DELETE FROM access_log",
        "TRUNCATE access_log",
    ],
)
async def test_the_application_role_cannot_rewrite_or_erase_the_log(
    intake: Intake, auth: Auth, app_engine: AsyncEngine, statement: str
) -> None:
    case = await register(intake, auth)
    await intake.client.get(f"/v1/cases/{case['id']}", headers=await auth("akt-caseworker"))
    before = await intake.count("access_log", "case_id = :id", id=uuid.UUID(case["id"]))
    assert before == 1
    async with app_engine.connect() as conn:
        await conn.begin()
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(AKT)})
        # The same role may read and append: the refusal is about rewriting, not access.
        assert (await conn.execute(text("SELECT count(*) FROM access_log"))).scalar_one() >= 1
        with pytest.raises(DBAPIError, match="permission denied"):
            await conn.execute(text(statement), {"id": uuid.UUID(case["id"])})
        await conn.rollback()
    rows = await intake.count(
        "access_log", "case_id = :id AND purpose = 'case_work'", id=uuid.UUID(case["id"])
    )
    assert rows == before, "the log entry changed"


async def test_a_period_given_in_dates_covers_whole_days(intake: Intake, auth: Auth) -> None:
    case = await register(intake, auth)
    await intake.client.get(f"/v1/cases/{case['id']}", headers=await auth("akt-caseworker"))
    [entry] = await log_of(intake, auth, case_id=case["id"])
    day = entry["at"][:10]  # UTC
    assert await log_of(intake, auth, case_id=case["id"], **{"from": day, "to": day}) == [entry]
    before = (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()
    assert await log_of(intake, auth, case_id=case["id"], **{"to": before}) == []
