"""Personal data at rest: only ciphertext in the database, and a ciphertext read anywhere but
where it was written fails loudly."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.intake.conftest import Intake
from tests.intake.test_cases import Auth, register

#: Every kind of personal value intake stores, registered through the API.
PERSON: dict[str, Any] = {
    "first_name": "Зульфия",
    "second_name": "Кадырбекова",
    "patronymic": "Маратовна",
    "name_latin": "Zulfiya Kadyrbekova",
    "sex": "female",
    "birth_date": "1993-11-27",
    "citizenship": "KG",
    "phone": "+996700998877",
    "current_location": "Бишкек, микрорайон Джал 23",
    "documents": [{"type": "passport", "status": "lost", "number": "ID9081726"}],
}
NOTES = {
    "case": "Работала на швейном цехе без оплаты",
    "assistance": "Консультация по восстановлению паспорта у Кадырбековой",
    "guardian": "Кадырбеков Марат Асанович",
    "withdrawal": "Передумала, боится мужа",
    "contact": "Звонила сестра из Казани",
}
PERSONAL = [
    *(value for key, value in PERSON.items() if key not in ("sex", "citizenship", "documents")),
    "ID9081726",
    "Кадырбекова",
    "Zulfiya",
    *NOTES.values(),
]


async def every_row_as_text(intake: Intake) -> dict[str, list[str]]:
    """Every row of every table of intake's database, as the owner sees it, as JSON text."""
    async with intake.admin_engine.connect() as conn:
        tables = (
            await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            )
        ).scalars()
        rows: dict[str, list[str]] = {}
        for table in list(tables):
            result = await conn.execute(text(f'SELECT to_jsonb(t)::text FROM "{table}" t'))
            rows[table] = list(result.scalars())
    return rows


async def test_every_personal_value_is_stored_only_as_ciphertext(
    intake: Intake, auth: Auth
) -> None:
    headers = await auth("akt-caseworker")
    case = await register(intake, auth, person=PERSON, notes=NOTES["case"])
    base = f"/v1/cases/{case['id']}"
    writes = [
        (
            f"{base}/assistance",
            {
                "type": "legal_aid",
                "mode": "office",
                "provided_on": "2026-03-12",
                "notes": NOTES["assistance"],
            },
        ),
        (
            f"{base}/consents",
            {
                "purpose": "registration",
                "scope": ["first_name"],
                "method": "written",
                "given_by": "guardian",
                "guardian_name": NOTES["guardian"],
                "given_at": "2026-03-10T10:00:00+05:00",
            },
        ),
        (
            "/v1/contacts",
            {"received_on": "2026-03-11", "topic": "violence", "notes": NOTES["contact"]},
        ),
    ]
    for path, body in writes:
        response = await intake.client.post(path, json=body, headers=headers)
        assert response.status_code == 201, response.text
    consent = (await intake.client.get(f"{base}/consents", headers=headers)).json()[0]
    withdrawn = await intake.client.post(
        f"{base}/consents/{consent['id']}/withdraw",
        json={"reason": NOTES["withdrawal"]},
        headers=headers,
    )
    assert withdrawn.status_code == 200, withdrawn.text

    # Read back through the API: every value as it was written.
    read = (await intake.client.get(base, headers=headers)).json()
    assert {k: read["person"][k] for k in PERSON if k != "documents"} == {
        k: v for k, v in PERSON.items() if k != "documents"
    }
    assert read["person"]["documents"][0]["number"] == "ID9081726"
    assert read["notes"] == NOTES["case"]
    assistance = (await intake.client.get(f"{base}/assistance", headers=headers)).json()
    assert assistance[0]["notes"] == NOTES["assistance"]
    consents = (await intake.client.get(f"{base}/consents", headers=headers)).json()
    assert (consents[0]["guardian_name"], consents[0]["withdrawal_reason"]) == (
        NOTES["guardian"],
        NOTES["withdrawal"],
    )

    # In the database, as its owner reads it: none of them, in any table.
    found = [
        (table, value)
        for table, rows in (await every_row_as_text(intake)).items()
        for row in rows
        for value in PERSONAL
        if value in row
    ]
    assert not found, f"personal values stored in clear: {found[:5]}"
    async with intake.admin_engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT first_name, birth_date, birth_year FROM persons WHERE id = :p"),
                {"p": uuid.UUID(case["person"]["id"])},
            )
        ).one()
    assert stored.first_name.startswith("tk1.") and stored.birth_date.startswith("tk1.")
    assert stored.birth_year == 1993, "the birth year is kept in clear for duplicate hints"


async def _swap(intake: Intake, first: tuple[str, str, str], second: tuple[str, str, str]) -> None:
    """Exchange two stored values: (table, column, row id) each."""
    async with intake.admin_engine.begin() as conn:
        values = []
        for table, column, row in (first, second):
            values.append(
                (
                    await conn.execute(
                        text(f'SELECT "{column}" FROM "{table}" WHERE id = :id'),
                        {"id": uuid.UUID(row)},
                    )
                ).scalar_one()
            )
        for (table, column, row), value in zip((first, second), reversed(values), strict=True):
            await conn.execute(
                text(f'UPDATE "{table}" SET "{column}" = :v WHERE id = :id'),
                {"v": value, "id": uuid.UUID(row)},
            )


SWAPS = {
    "between two persons": lambda a, b, o: (
        ("persons", "first_name", a["person"]["id"]),
        ("persons", "first_name", b["person"]["id"]),
    ),
    "between two fields": lambda a, b, o: (
        ("persons", "first_name", a["person"]["id"]),
        ("persons", "second_name", a["person"]["id"]),
    ),
    "between two NGOs": lambda a, b, o: (
        ("persons", "phone", a["person"]["id"]),
        ("persons", "phone", o["person"]["id"]),
    ),
    "between a case's notes and another's": lambda a, b, o: (
        ("cases", "notes", a["id"]),
        ("cases", "notes", b["id"]),
    ),
}


@pytest.mark.parametrize("swap", list(SWAPS))
async def test_a_ciphertext_moved_elsewhere_fails_loudly_and_shows_nothing(
    intake: Intake, auth: Auth, swap: str
) -> None:
    first = await register(
        intake, auth, person={**PERSON, "first_name": "Айдана"}, notes="первая заметка"
    )
    second = await register(
        intake, auth, person={**PERSON, "first_name": "Бегимай"}, notes="вторая заметка"
    )
    other_ngo = await register(intake, auth, user="tld-caseworker", person=PERSON)
    moved = SWAPS[swap](first, second, other_ngo)
    await _swap(intake, *moved)

    response = await intake.client.get(
        f"/v1/cases/{first['id']}", headers=await auth("akt-caseworker")
    )
    assert response.status_code == 500, f"a moved ciphertext was read: {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/record-does-not-decrypt")
    for name in ("Айдана", "Бегимай", "первая", "вторая", PERSON["phone"]):
        assert name not in response.text, "the problem shows personal data"

    await _swap(intake, *moved)  # put back: both read again
    for case, user in ((first, "akt-caseworker"), (other_ngo, "tld-caseworker")):
        again = await intake.client.get(f"/v1/cases/{case['id']}", headers=await auth(user))
        assert again.status_code == 200, again.text
