"""Rotating the master key and one NGO's data key, with the service running throughout:
every case stays readable, and the old key then reads nothing."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from intake.cases import service as cases
from intake.privacy import keys as intake_keys
from intake.privacy.reveal import reveal_case
from tests.intake.conftest import Intake
from tests.intake.test_cases import Auth, register
from tests.intake.test_encryption_at_rest import PERSON
from tirek.crypto import DecryptionError, FieldRef, Keyring, KeyUnavailable, StaticKeyProvider
from tirek.crypto.aead import decrypt_field
from tirek.crypto.kek import kek_id_of
from tirek.crypto.records import sealed_fields
from tirek.db import UnitOfWork
from tirek.demo.consortium import tenant_by_code

JAL = tenant_by_code("JAL").id


async def cases_by_tenant(intake: Intake) -> dict[uuid.UUID, list[uuid.UUID]]:
    async with intake.admin_engine.connect() as conn:
        rows = (await conn.execute(text("SELECT tenant_id, id FROM cases"))).all()
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for tenant, case_id in rows:
        found.setdefault(tenant, []).append(case_id)
    return found


async def read_everything(intake: Intake, keyring: Keyring) -> dict[uuid.UUID, dict[str, Any]]:
    """Every case of every NGO, opened with ``keyring``: its person's fields and its notes."""
    opened: dict[uuid.UUID, dict[str, Any]] = {}
    for tenant, ids in (await cases_by_tenant(intake)).items():
        async with UnitOfWork(intake.app.state.sessions, tenant) as session:
            for case_id in ids:
                case = await reveal_case(keyring, await cases.get(session=session, case_id=case_id))
                opened[case_id] = {**case.person.fields, "notes": case.notes}
    return opened


async def test_a_new_master_key_rewraps_every_data_key_and_the_old_one_then_reads_nothing(
    intake: Intake, auth: Auth
) -> None:
    case = await register(intake, auth, person=PERSON, notes="до смены ключа")
    sessions = intake.app.state.sessions
    assert intake.settings.master_key is not None
    old = intake.settings.master_key
    new = base64.b64encode(secrets.token_bytes(32)).decode()
    before = await read_everything(intake, Keyring(StaticKeyProvider(old), sessions))
    assert before, "no case to read"

    # The switch: services know both keys; the new one wraps.
    switching = Keyring(StaticKeyProvider(new, old), sessions)
    rewrapped = await intake_keys.rewrap(sessions, switching)
    try:
        assert sum(rewrapped.values()) >= 2 * len(rewrapped)  # a data and a blind key each
        assert await intake_keys.status(sessions) == {
            kek_id_of(base64.b64decode(new)): sum(rewrapped.values())
        }, "a key is still wrapped under the old master key"
        # The running service (old key only, keys cached) keeps answering.
        served = await intake.client.get(
            f"/v1/cases/{case['id']}", headers=await auth("akt-caseworker")
        )
        assert served.status_code == 200 and served.json()["notes"] == "до смены ключа"

        after = await read_everything(intake, Keyring(StaticKeyProvider(new), sessions))
        assert after == before, "a case reads differently under the new master key"
        retired = Keyring(StaticKeyProvider(old), sessions)
        for tenant in await cases_by_tenant(intake):
            with pytest.raises(KeyUnavailable):
                await retired.keys(tenant)
    finally:
        # Back to the key the rest of the suite runs with.
        await intake_keys.rewrap(sessions, Keyring(StaticKeyProvider(old, new), sessions))
    assert await read_everything(intake, Keyring(StaticKeyProvider(old), sessions)) == before


async def sealed_values(intake: Intake, tenant: uuid.UUID) -> list[tuple[FieldRef, str, int]]:
    """Every ciphertext of ``tenant`` in intake's database, where it is stored, its version."""
    from intake.privacy.keys import resealables

    found = []
    async with intake.admin_engine.connect() as conn:
        for spec in resealables(intake.app.state.keyring):
            model = spec.model
            table = model.__tablename__  # type: ignore[attr-defined]
            for name in sealed_fields(model):
                rows = await conn.execute(
                    text(
                        f'SELECT id, "{name if name != "package" else "sealed"}", key_version '
                        f'FROM "{table}" WHERE tenant_id = :t'
                    ),
                    {"t": tenant},
                )
                for row_id, value, version in rows:
                    if value is not None:
                        found.append((FieldRef(tenant, table, row_id, name), value, version))
    return found


async def test_a_tenants_data_key_rotates_online_and_the_old_key_then_reads_nothing(
    intake: Intake, auth: Auth
) -> None:
    keyring: Keyring = intake.app.state.keyring
    sessions = intake.app.state.sessions
    headers = await auth("jal-caseworker")
    for n in range(5):
        await register(intake, auth, user="jal-caseworker", person=PERSON, notes=f"заметка {n}")
    old = await keyring.keys(JAL)
    old_version, old_key = old.current_version, old.data[old.current_version]
    ids = (await cases_by_tenant(intake))[JAL]
    before = {i: (await intake.client.get(f"/v1/cases/{i}", headers=headers)).json() for i in ids}

    async def keep_registering() -> list[dict[str, Any]]:
        return [
            await register(
                intake, auth, user="jal-caseworker", person=PERSON, notes=f"во время {n}"
            )
            for n in range(6)
        ]

    report, during = await asyncio.gather(
        intake_keys.rotate(sessions, keyring, JAL, settle=0.2, batch=3), keep_registering()
    )
    assert report.created and report.version == old_version + 1
    assert report.destroyed == [old_version]
    assert report.resealed >= len(ids)

    values = await sealed_values(intake, JAL)
    assert values and {version for _, _, version in values} == {report.version}, (
        "rows of the NGO are left under the old data key"
    )
    for ref, token, _ in values:
        with pytest.raises(DecryptionError):
            decrypt_field(old_key, ref, token)
    async with intake.admin_engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT version FROM data_keys WHERE tenant_id = :t AND purpose = 'data'"),
                {"t": JAL},
            )
        ).scalars()
        assert list(stored) == [report.version], "the old data key was not destroyed"
    for case_id, was in before.items():
        now = (await intake.client.get(f"/v1/cases/{case_id}", headers=headers)).json()
        assert {k: now[k] for k in ("person", "notes")} == {k: was[k] for k in ("person", "notes")}
    for case in during:
        now = await intake.client.get(f"/v1/cases/{case['id']}", headers=headers)
        assert now.status_code == 200 and now.json()["notes"] == case["notes"]
    # The name index survived: the blind-index key is not rotated with the data key.
    found = await intake.client.get(
        "/v1/cases", params={"name": "Kadyrbekova Zulfiya", "limit": 200}, headers=headers
    )
    assert {c["id"] for c in during} <= {c["id"] for c in found.json()["items"]}


async def test_an_interrupted_rotation_resumes_where_it_stopped(intake: Intake, auth: Auth) -> None:
    keyring: Keyring = intake.app.state.keyring
    sessions = intake.app.state.sessions
    await register(intake, auth, user="nuk-caseworker", person=PERSON, notes="до")
    nuk = tenant_by_code("NUK").id
    first = asyncio.create_task(intake_keys.rotate(sessions, keyring, nuk, settle=3600))
    await asyncio.sleep(1)  # the new key exists; the rotation waits for services to settle
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    resumed = await intake_keys.rotate(sessions, keyring, nuk, settle=0)
    assert not resumed.created, "a second new key was made instead of resuming"
    assert resumed.destroyed and {v for _, _, v in await sealed_values(intake, nuk)} == {
        resumed.version
    }
