"""A registration's duplicate lookup reads what matches, however many persons the NGO has
(migration 0009): ``make bench`` found it reading every person of the NGO, its cost growing
with them. Measured in pages read, which do not depend on the machine's speed."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from intake.cases.registration import _FOUND
from tests.intake.conftest import Intake
from tests.intake.test_row_level_security import as_tenant

#: After this many calls in a session, PostgreSQL may keep one plan for a function's query
#: (PL/pgSQL) or a prepared statement, made with the table's size at the time.
PLANS_KEPT_AFTER = 10
#: An NGO's persons, each row about as wide as a sealed person (the ciphertext of its fields).
PERSONS = 5000
_STORE = text(
    "INSERT INTO persons (id, tenant_id, sex, languages, first_name, name_indexes) "
    "SELECT gen_random_uuid(), :tenant, 'female', '{}', repeat('x', 300), "
    "ARRAY[md5('name ' || i)::varchar(32)] FROM generate_series(1, :persons) AS i"
)
_OPEN_CASES = text(
    "INSERT INTO cases (id, number, person_id, categories, exploitation_forms, trm_stage, "
    "status, risk_level, opened_on, created_by, revision, tenant_id, age_band) "
    "SELECT gen_random_uuid(), 'T-' || row_number() OVER (), p.id, '{}', '{}', "
    "'identification', 'open', 'high', current_date, 'test', 1, p.tenant_id, 'unknown' "
    "FROM persons p WHERE p.tenant_id = :tenant"
)
#: The name of person 2,500, as its blind index.
_NAME = "md5('name 2500')"
_MATCH = f"SELECT * FROM persons_matching(ARRAY[{_NAME}], '{{}}')"


@pytest.fixture
async def app_connection(intake: Intake) -> AsyncIterator[AsyncConnection]:
    """A connection as the application role, in a transaction rolled back at the end."""
    engine: AsyncEngine = create_async_engine(intake.db.app_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            try:
                yield conn
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()


async def _pages_read(conn: AsyncConnection, query: str, *args: Any) -> tuple[int, int]:
    """(rows, pages read from shared buffers or disk) of ``query``, by EXPLAIN ANALYZE."""
    plan = (
        await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", args)
    ).scalar_one()
    top = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
    return top["Actual Rows"], top["Shared Hit Blocks"] + top["Shared Read Blocks"]


async def test_matching_one_name_among_thousands_of_persons_reads_a_few_pages(
    app_connection: AsyncConnection,
) -> None:
    conn = app_connection
    await _an_ngo_of_thousands(conn, persons=0)
    for _ in range(PLANS_KEPT_AFTER):  # while the NGO has no one
        await _pages_read(conn, _MATCH)
    await _an_ngo_of_thousands(conn, persons=PERSONS)
    whole = await _pages_read(conn, "SELECT count(*) FROM persons")

    matched, pages = await _pages_read(conn, _MATCH)

    assert matched == 1
    assert whole[1] > 200, f"the NGO's persons fill only {whole[1]} pages: the test proves nothing"
    assert pages < 25, f"one name among {PERSONS:,} persons read {pages} pages (all: {whole[1]})"


async def test_a_registrations_lookup_among_thousands_of_cases_reads_a_few_pages(
    app_connection: AsyncConnection,
) -> None:
    """The statement a registration runs (duplicates and partners, ``_FOUND``), prepared as the
    service's driver prepares it and run while the NGO had no one, for a person registered
    before. The old statement read every person and every case of the NGO (425 pages).

    The persons are read by their GIN index whatever the plan. The cases are looked up by
    ``ix_cases_person_id`` when the plan was made with the tables' real size (under 40 pages
    here); a plan made while the tables themselves were nearly empty (a fresh test database,
    or a new deployment until autoanalyze replans it) may read the NGO's cases once through its
    tenant index instead (130 pages in one `.ci/run`), which the bound allows."""
    conn = app_connection
    await _an_ngo_of_thousands(conn, persons=0)
    compiled = _FOUND.compile(dialect=conn.dialect)
    values = {  # the parameters, as SQL: EXECUTE takes no bound ones
        "names": f"ARRAY[{_NAME}]::text[]",
        "documents": "'{}'::text[]",
        "limit": "10",
        "hints": "'{}'::varchar[]",
        "today": "current_date",
    }
    found = f"found({', '.join(values[name] for name in compiled.positiontup or ())})"
    await conn.exec_driver_sql(f"PREPARE found AS {compiled}")
    for _ in range(PLANS_KEPT_AFTER):
        await conn.exec_driver_sql(f"EXECUTE {found}")
    await _an_ngo_of_thousands(conn, persons=PERSONS)

    _, pages = await _pages_read(conn, f"EXECUTE {found}")
    duplicates = (await conn.exec_driver_sql(f"EXECUTE {found}")).one()[0]

    assert len(duplicates) == 1
    assert pages < 200, f"a registration's lookup among {PERSONS:,} cases read {pages} pages"


async def _an_ngo_of_thousands(conn: AsyncConnection, *, persons: int) -> None:
    """The connection's transaction as an NGO of this test alone, with ``persons`` persons and
    a case each (all rolled back); the NGO is the same for every call in a transaction."""
    tenant = (await conn.execute(text("SELECT current_setting('app.tenant_id', true)"))).scalar()
    if not tenant:
        tenant = str(uuid.uuid4())
        await as_tenant(conn, uuid.UUID(tenant))
    if persons:
        await conn.execute(_STORE, {"tenant": tenant, "persons": persons})
        await conn.execute(_OPEN_CASES, {"tenant": tenant})
