"""The cross-NGO duplicate hint: "a partner NGO may already know this person — you can request
a referral", from a consortium-keyed index of (name in any spelling, birth year, citizenship);
only towards NGOs the registering NGO may refer to under an agreement in force, naming the
NGO and nothing else. Agreements arrive as admin's events on the real broker."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import nats
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from intake.partners.reindex import reindex_hints
from tests.intake.conftest import Intake
from tests.intake.test_cases import Auth
from tests.intake.test_search import register
from tirek.demo.consortium import tenant_by_code
from tirek.events import Envelope
from tirek.events.admin import AgreementGranted, AgreementRevoked

AKT, TLD, OSH, JAL, NUK = (tenant_by_code(c).id for c in ("AKT", "TLD", "OSH", "JAL", "NUK"))
PLATFORM = tenant_by_code("CRD").id
HINT_KEYS = {"tenant_id", "code", "country", "name"}

_SYLLABLES = [("ба", "ba"), ("да", "da"), ("ка", "ka"), ("ла", "la"), ("ма", "ma"),
              ("на", "na"), ("ра", "ra"), ("са", "sa"), ("та", "ta"), ("ки", "ki"),
              ("ру", "ru"), ("ми", "mi"), ("ту", "tu"), ("би", "bi")]  # fmt: skip


def a_person() -> tuple[dict[str, str], dict[str, str]]:
    """A person no other test registers: (Cyrillic name fields, the Latin spelling)."""
    n = uuid.uuid4().int
    picked = [_SYLLABLES[(n >> (4 * i)) % len(_SYLLABLES)] for i in range(5)]
    family, given = picked[:3], picked[3:]
    cyrillic = {
        "second_name": "".join(c for c, _ in family).capitalize() + "ов",
        "first_name": "".join(c for c, _ in given).capitalize() + "р",
    }
    latin = {
        "name_latin": "".join(lat for _, lat in given).capitalize()
        + "r "
        + "".join(lat for _, lat in family).capitalize()
        + "ov"
    }
    return cyrillic, latin


def case(name: dict[str, str], **person: Any) -> dict[str, Any]:
    return {
        "person": {
            "sex": "male",
            "birth_date": "1991-05-05",
            "citizenship": "KG",
            **name,
            **person,
        },
        "categories": ["labour_migrant"],
        "opened_on": "2026-02-01",
    }


async def publish(intake: Intake, envelope: Envelope) -> None:
    nc = await nats.connect(intake.settings.nats_url)
    try:
        await nc.jetstream().publish(
            intake.naming.subject(envelope.subject_name),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(envelope.id)},
        )
    finally:
        await nc.close()


async def until(intake: Intake, where: str, timeout: float = 15, **params: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await intake.count("sharing_agreements", where, **params):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"intake never applied the agreement event ({where})")


async def grant(
    intake: Intake,
    from_tenant: uuid.UUID,
    to_tenant: uuid.UUID,
    *,
    valid_from: date = date(2026, 1, 1),
    valid_until: date | None = None,
) -> uuid.UUID:
    agreement_id = uuid.uuid4()
    await publish(
        intake,
        Envelope.wrap(
            AgreementGranted(
                agreement_id=agreement_id,
                from_tenant=from_tenant,
                to_tenant=to_tenant,
                services=[],
                valid_from=valid_from,
                valid_until=valid_until,
            ),
            tenant=PLATFORM,
            subject=agreement_id,
        ),
    )
    await until(intake, "id = :id AND from_tenant IS NOT NULL", id=agreement_id)
    return agreement_id


async def revoke(intake: Intake, agreement_id: uuid.UUID) -> None:
    await publish(
        intake,
        Envelope.wrap(
            AgreementRevoked(agreement_id=agreement_id),
            tenant=PLATFORM,
            subject=agreement_id,
            time=datetime.now(UTC),
        ),
    )
    await until(intake, "id = :id AND revoked_at IS NOT NULL", id=agreement_id)


@pytest.fixture(scope="module")
async def akt_may_refer_to_osh(intake: Intake) -> uuid.UUID:
    return await grant(intake, AKT, OSH)


async def test_a_latin_registration_hears_of_the_partner_that_registered_the_cyrillic_name(
    intake: Intake, auth: Auth, akt_may_refer_to_osh: uuid.UUID
) -> None:
    cyrillic, latin = a_person()
    theirs = await register(intake, auth, "osh-caseworker", case(cyrillic))
    assert theirs["partner_hints"] == [], "OSH may not refer to AKT: no hint for OSH"

    ours = await register(intake, auth, "akt-caseworker", case(latin))
    assert ours["partner_hints"] == [
        {
            "tenant_id": str(OSH),
            "code": "OSH",
            "country": "KG",
            "name": ours["partner_hints"][0]["name"],
        }
    ]
    [hint] = ours["partner_hints"]
    assert set(hint) == HINT_KEYS, f"the hint says more than which NGO: {sorted(hint)}"
    assert hint["name"] and hint["name"] != "OSH"
    # Nothing of OSH's case: no id, number, person, name or date of theirs.
    body = str(ours)
    for secret in (theirs["id"], theirs["number"], theirs["person"]["id"], cyrillic["second_name"]):
        assert secret not in body, f"the answer reveals OSH's {secret!r}"

    # The case's duplicates view carries the same hint later on.
    later = await intake.client.get(
        f"/v1/cases/{ours['id']}/duplicates", headers=await auth("akt-manager")
    )
    assert later.status_code == 200
    assert [h["tenant_id"] for h in later.json()["partner_hints"]] == [str(OSH)]
    assert later.json()["items"] == [], "a partner's case is never one of AKT's suggestions"


async def test_no_hint_for_another_birth_year_or_citizenship_or_without_a_birth_date(
    intake: Intake, auth: Auth, akt_may_refer_to_osh: uuid.UUID
) -> None:
    cyrillic, latin = a_person()
    await register(intake, auth, "osh-caseworker", case(cyrillic))
    for person in (
        {"birth_date": "1992-05-05"},
        {"citizenship": "UZ"},
        {"birth_date": None, "estimated_age": 35},
        {"citizenship": None},
    ):
        ours = await register(intake, auth, "akt-caseworker", case(latin, **person))
        assert ours["partner_hints"] == [], f"a hint fired for {person}"
    # Without a birth date, OSH's person has no hint to be found by: nothing stored.
    unknown_year = await register(
        intake, auth, "osh-caseworker", case(cyrillic, birth_date=None, estimated_age=30)
    )
    assert (
        await intake.count(
            "partner_hints", "person_id = :p", p=uuid.UUID(unknown_year["person"]["id"])
        )
        == 0
    )


async def test_no_hint_without_an_agreement_in_the_asking_direction(
    intake: Intake, auth: Auth
) -> None:
    await grant(intake, NUK, JAL)  # NUK may refer to JAL, not the other way round
    cyrillic, latin = a_person()
    await register(intake, auth, "nuk-caseworker", case(cyrillic))
    ours = await register(intake, auth, "jal-caseworker", case(latin))
    assert ours["partner_hints"] == [], "JAL heard of NUK without an agreement to refer to it"
    # The other way round the agreement holds, and NUK hears of JAL.
    again = await register(intake, auth, "nuk-manager", case(latin))
    assert [h["code"] for h in again["partner_hints"]] == ["JAL"]


async def test_no_hint_once_the_agreement_is_revoked(intake: Intake, auth: Auth) -> None:
    agreement = await grant(intake, TLD, JAL)
    cyrillic, latin = a_person()
    await register(intake, auth, "jal-caseworker", case(cyrillic))
    before = await register(intake, auth, "tld-caseworker", case(latin))
    assert [h["code"] for h in before["partner_hints"]] == ["JAL"]

    await revoke(intake, agreement)
    after = await register(intake, auth, "tld-caseworker", case(latin))
    assert after["partner_hints"] == [], "the hint outlived the agreement"
    shown = await intake.client.get(
        f"/v1/cases/{before['id']}/duplicates", headers=await auth("tld-caseworker")
    )
    assert shown.json()["partner_hints"] == []


async def test_no_hint_under_an_expired_or_future_agreement(intake: Intake, auth: Auth) -> None:
    await grant(intake, TLD, NUK, valid_from=date(2020, 1, 1), valid_until=date(2021, 12, 31))
    await grant(intake, TLD, NUK, valid_from=date(2099, 1, 1))
    cyrillic, latin = a_person()
    await register(intake, auth, "nuk-caseworker", case(cyrillic))
    ours = await register(intake, auth, "tld-caseworker", case(latin))
    assert ours["partner_hints"] == []


async def test_a_revocation_that_arrives_before_its_grant_still_revokes(
    intake: Intake, auth: Auth
) -> None:
    agreement_id = uuid.uuid4()
    await revoke(intake, agreement_id)
    await publish(
        intake,
        Envelope.wrap(
            AgreementGranted(
                agreement_id=agreement_id,
                from_tenant=JAL,
                to_tenant=AKT,
                services=[],
                valid_from=date(2026, 1, 1),
            ),
            tenant=PLATFORM,
            subject=agreement_id,
        ),
    )
    await until(intake, "id = :id AND from_tenant IS NOT NULL", id=agreement_id)
    cyrillic, latin = a_person()
    await register(intake, auth, "akt-caseworker", case(cyrillic))
    assert (await register(intake, auth, "jal-caseworker", case(latin)))["partner_hints"] == []


async def test_an_update_that_completes_the_person_brings_the_hint(
    intake: Intake, auth: Auth, akt_may_refer_to_osh: uuid.UUID
) -> None:
    cyrillic, latin = a_person()
    await register(intake, auth, "osh-caseworker", case(cyrillic))
    ours = await register(intake, auth, "akt-caseworker", case(latin, citizenship=None))
    assert ours["partner_hints"] == []
    patched = await intake.client.patch(
        f"/v1/cases/{ours['id']}",
        json={"person": {"citizenship": "KG"}},
        headers=await auth("akt-caseworker"),
    )
    assert patched.status_code == 200, patched.text
    shown = await intake.client.get(
        f"/v1/cases/{ours['id']}/duplicates", headers=await auth("akt-caseworker")
    )
    assert [h["code"] for h in shown.json()["partner_hints"]] == ["OSH"]


async def test_persons_registered_before_the_hints_get_them_from_reindex(
    intake: Intake, auth: Auth, akt_may_refer_to_osh: uuid.UUID
) -> None:
    cyrillic, latin = a_person()
    theirs = await register(intake, auth, "osh-caseworker", case(cyrillic))
    async with intake.admin_engine.begin() as conn:  # as if registered before migration 0004
        await conn.execute(
            text("DELETE FROM partner_hints WHERE person_id = :p"),
            {"p": uuid.UUID(theirs["person"]["id"])},
        )
    assert (await register(intake, auth, "akt-caseworker", case(latin)))["partner_hints"] == []
    assert await reindex_hints(intake.app.state.sessions, intake.app.state.keyring) >= 1
    assert [
        h["code"]
        for h in (await register(intake, auth, "akt-caseworker", case(latin)))["partner_hints"]
    ] == ["OSH"]


@pytest.fixture(scope="module")
async def app_engine(intake: Intake) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(intake.db.app_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def test_the_application_role_sees_across_ngos_only_tenant_ids(
    intake: Intake, auth: Auth, app_engine: AsyncEngine, akt_may_refer_to_osh: uuid.UUID
) -> None:
    cyrillic, _ = a_person()
    theirs = await register(intake, auth, "osh-caseworker", case(cyrillic))
    async with intake.admin_engine.connect() as conn:
        hints = list(
            (
                await conn.execute(
                    text("SELECT hint FROM partner_hints WHERE person_id = :p"),
                    {"p": uuid.UUID(theirs["person"]["id"])},
                )
            ).scalars()
        )
    assert hints, "OSH's person has no hint"
    lookup = text("SELECT * FROM partners_holding_hints(CAST(:h AS text[]), current_date)")
    async with app_engine.connect() as conn:
        async with conn.begin():
            await conn.execute(
                text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(AKT)}
            )
            # OSH's hint rows stay invisible to AKT...
            rows = await conn.execute(
                text("SELECT count(*) FROM partner_hints WHERE tenant_id = :t"), {"t": OSH}
            )
            assert rows.scalar_one() == 0, "AKT reads OSH's hint rows"
            # ...and the lookup answers one column, a tenant id, nothing of the person.
            result = await conn.execute(lookup, {"h": hints})
            assert list(result.keys()) == ["partners_holding_hints"]
            assert list(result.scalars()) == [OSH]
        async with conn.begin():  # no tenant set: no asking NGO, no answer
            assert list((await conn.execute(lookup, {"h": hints})).scalars()) == []


def test_hint_values_meet_across_alphabets_and_need_a_birth_year_and_citizenship() -> None:
    from intake.partners.hints import hint_values
    from tirek.crypto import CONSORTIUM, TenantKeys

    keys = TenantKeys(CONSORTIUM, 1, {}, b"b" * 32)
    cyrillic = {"first_name": "Тахир", "second_name": "Сабиров", "birth_date": date(1998, 4, 2)}
    latin = {"name_latin": "Sabirov Takhir", "birth_date": "1998-11-30"}
    one = hint_values(keys, {**cyrillic, "citizenship": "TJ"})
    assert one and one == hint_values(keys, {**latin, "citizenship": "TJ"})
    assert not one & hint_values(keys, {**latin, "citizenship": "UZ"})
    assert not one & hint_values(keys, {**latin, "birth_date": "1999-01-01", "citizenship": "TJ"})
    assert hint_values(keys, cyrillic) == set(), "no citizenship, yet a hint"
    assert hint_values(keys, {**cyrillic, "birth_date": None, "citizenship": "TJ"}) == set()
    assert hint_values(keys, {"birth_date": "1998-04-02", "citizenship": "TJ"}) == set()
    assert all("sabir" not in value.lower() for value in one)
