"""An intake database from before encryption at rest (an old ``.tirek/``): migrated, then
sealed, it holds no plaintext, reads as before and finds its persons by name again."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
from alembic import command
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from intake.cases import service as cases
from intake.migrate import alembic_config
from intake.privacy.keys import seal_plaintext
from intake.privacy.reveal import reveal_case
from intake.settings import IntakeSettings
from intake.shares.service import open_package
from tirek.crypto import Keyring, StaticKeyProvider
from tirek.db import UnitOfWork, create_engine, session_factory
from tirek.demo.consortium import tenant_by_code
from tirek.testing.plugin import MakeDatabase

AKT = tenant_by_code("AKT").id
OSH = tenant_by_code("OSH").id
PERSON, CASE, CONSENT, REFERRAL = (uuid.uuid4() for _ in range(4))
PACKAGE = {"first_name": "Дильноза", "case_number": "KZ-AKT-2025-000001"}
IN_CLEAR = ("Дильноза", "Юлдашева", "Dilnoza", "1991-05-06", "+77017654321", "AB1234567")


def seal_v1(master: bytes, tenant: uuid.UUID, plaintext: bytes, context: bytes) -> str:
    """A share package as the code before per-tenant data keys sealed it."""
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"tirek-tenant-key",
        info=b"tirek/share/" + tenant.bytes,
    ).derive(master)
    nonce = secrets.token_bytes(12)
    return (
        "v1."
        + base64.urlsafe_b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, context)).decode()
    )


@pytest.fixture
async def old_database(
    make_database: MakeDatabase, intake_settings: IntakeSettings, pg_admin_dsn: str
) -> AsyncIterator[tuple[IntakeSettings, AsyncEngine]]:
    db = await make_database("intakeold")
    settings = intake_settings.model_copy(
        update={"db_url": db.app_url, "db_owner_url": db.owner_url}
    )
    await asyncio.to_thread(command.upgrade, alembic_config(settings), "0003")
    admin = create_async_engine(
        make_url(pg_admin_dsn).set(drivername="postgresql+asyncpg", database=db.name)
    )
    yield settings, admin
    await admin.dispose()


async def test_an_old_database_is_migrated_sealed_and_reads_as_before(
    old_database: tuple[IntakeSettings, AsyncEngine],
) -> None:
    settings, admin = old_database
    assert settings.master_key is not None
    master = base64.b64decode(settings.master_key)
    sealed = seal_v1(master, OSH, json.dumps(PACKAGE, ensure_ascii=False).encode(), REFERRAL.bytes)
    async with admin.begin() as conn:  # as the code of migration 0003 wrote them
        await conn.execute(
            text(
                "INSERT INTO tenants (id, code, country, region, kind, names, active) "
                "VALUES (:t, 'AKT', 'KZ', 'Aktobe', 'ngo', '{}', true)"
            ),
            {"t": AKT},
        )
        await conn.execute(
            text(
                "INSERT INTO persons (id, tenant_id, first_name, second_name, name_latin, sex, "
                "birth_date, citizenship, languages, phone, documents) VALUES (:p, :t, "
                "'Дильноза', 'Юлдашева', 'Dilnoza Yuldasheva', 'female', '1991-05-06', 'UZ', "
                "'{uz}', '+77017654321', "
                """'[{"type": "passport", "status": "held", "number": "AB1234567"}]')"""
            ),
            {"p": PERSON, "t": AKT},
        )
        await conn.execute(
            text(
                "INSERT INTO cases (id, tenant_id, number, person_id, categories, "
                "exploitation_forms, trm_stage, status, risk_level, opened_on, notes, "
                "created_by, revision) VALUES (:c, :t, 'KZ-AKT-2025-000001', :p, "
                "'{labour_migrant}', '{}', 'identification', 'active', 'low', '2025-06-01', "
                "'Звонила Дильноза', 'u', 1)"
            ),
            {"c": CASE, "t": AKT, "p": PERSON},
        )
        await conn.execute(
            text(
                "INSERT INTO consents (id, tenant_id, case_id, purpose, scope, recipient_tenant, "
                "given_by, method, given_at, recorded_by) VALUES (:k, :t, :c, 'referral', "
                "'{first_name}', :o, 'person', 'written', now(), 'u')"
            ),
            {"k": CONSENT, "t": AKT, "c": CASE, "o": OSH},
        )
        await conn.execute(
            text(
                "INSERT INTO share_packages (id, tenant_id, referral_id, case_id, "
                "receiver_tenant, consent_id, fields, sealed) VALUES (:i, :t, :r, :c, :o, :k, "
                "'{first_name}', :s)"
            ),
            {
                "i": uuid.uuid4(),
                "t": AKT,
                "r": REFERRAL,
                "c": CASE,
                "o": OSH,
                "k": CONSENT,
                "s": sealed,
            },
        )

    await asyncio.to_thread(command.upgrade, alembic_config(settings), "head")
    engine = create_engine(settings.db_url, pool_size=4)
    try:
        sessions = session_factory(engine)
        keyring = Keyring(StaticKeyProvider(settings.master_key), sessions)
        assert await seal_plaintext(sessions, keyring) >= 4
        assert await seal_plaintext(sessions, keyring) == 0, "sealing twice changed rows"

        async with admin.connect() as conn:
            rows = {
                table: (await conn.execute(text(f'SELECT to_jsonb(t)::text FROM "{table}" t')))
                .scalars()
                .all()
                for table in ("persons", "cases", "consents", "share_packages")
            }
            derived = (
                await conn.execute(
                    text(
                        "SELECT p.birth_year, c.age_band FROM persons p JOIN cases c "
                        "ON c.person_id = p.id WHERE p.id = :p"
                    ),
                    {"p": PERSON},
                )
            ).one()
        leaks = [(t, v) for t, rs in rows.items() for r in rs for v in IN_CLEAR if v in r]
        assert not leaks, f"plaintext left after sealing: {leaks}"
        assert tuple(derived) == (1991, "25-34")

        async with UnitOfWork(sessions, AKT) as session:
            case = await reveal_case(keyring, await cases.get(session=session, case_id=CASE))
            assert (case.person.first_name, case.person.birth_date) == (
                "Дильноза",
                date(1991, 5, 6),
            )
            assert case.person.documents[0]["number"] == "AB1234567"
            assert case.notes == "Звонила Дильноза"
            found, _ = await cases.list_cases(
                session=session,
                filters=cases.CaseFilter(name="Yuldasheva Dilnoza"),
                cursor=None,
                limit=10,
                keyring=keyring,
                tenant=AKT,
            )
            assert [c.id for c in found] == [CASE], "the old person is not found by name"
            assert (
                await open_package(
                    session=session, keyring=keyring, referral_id=REFERRAL, receiver_tenant=OSH
                )
                == PACKAGE
            )
    finally:
        await engine.dispose()
