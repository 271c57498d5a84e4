"""Row-level security underneath the code: a query that forgets the tenant filter, run as the
application role, still sees only the tenant set for its transaction (DESIGN.md)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tests.intake.conftest import Intake
from tests.intake.test_cases import CASE
from tirek.db.rls import tables_without_forced_rls_sql
from tirek.demo.consortium import tenant_by_code

Auth = Callable[[str], Awaitable[dict[str, str]]]

AKT = tenant_by_code("AKT").id
TLD = tenant_by_code("TLD").id


@pytest.fixture(scope="module")
async def app_engine(intake: Intake) -> AsyncIterator[AsyncEngine]:
    """A connection pool as the application role, exactly as the service connects."""
    engine = create_async_engine(intake.db.app_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def cases_of_two_ngos(intake: Intake, auth: Auth) -> dict[uuid.UUID, str]:
    """A case registered by AKT and one by TLD: their ids by tenant."""
    ids: dict[uuid.UUID, str] = {}
    for tenant, user in ((AKT, "akt-caseworker"), (TLD, "tld-caseworker")):
        response = await intake.client.post("/v1/cases", json=CASE, headers=await auth(user))
        assert response.status_code == 201, response.text
        ids[tenant] = response.json()["id"]
    return ids


async def tenant_tables(intake: Intake) -> list[str]:
    async with intake.admin_engine.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_name = 'tenant_id' ORDER BY 1"
            )
        )
        return list(result.scalars())


async def as_tenant(conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
    await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)})


async def test_a_query_without_tenant_filter_sees_only_the_tenant_set_for_the_transaction(
    intake: Intake, app_engine: AsyncEngine, cases_of_two_ngos: dict[uuid.UUID, str]
) -> None:
    async with app_engine.begin() as conn:
        await as_tenant(conn, AKT)
        rows = (await conn.execute(text("SELECT id::text, tenant_id FROM cases"))).all()
    seen = {case_id for case_id, _ in rows}
    assert cases_of_two_ngos[AKT] in seen, "AKT does not see its own case"
    assert cases_of_two_ngos[TLD] not in seen, "AKT's query returned TLD's case"
    assert {tenant for _, tenant in rows} == {AKT}, "rows of another NGO came back"

    # The same holds for every table that holds an NGO's rows.
    tables = await tenant_tables(intake)
    for table in tables:
        async with app_engine.begin() as conn:
            await as_tenant(conn, AKT)
            others = await conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE tenant_id <> :t"), {"t": AKT}
            )
            assert others.scalar_one() == 0, f"AKT sees another NGO's rows in {table}"
    assert await intake.count("cases", "tenant_id = :t", t=TLD) >= 1, "TLD's case is not stored"


async def test_without_a_tenant_set_every_table_is_empty(
    intake: Intake, app_engine: AsyncEngine, cases_of_two_ngos: dict[uuid.UUID, str]
) -> None:
    tables = await tenant_tables(intake)
    assert "cases" in tables and "persons" in tables
    assert await intake.count("cases") >= 2, "there are no cases that could show"
    for table in tables:
        async with app_engine.begin() as conn:
            count = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
        assert count == 0, f"with no tenant set, {table} shows {count} rows"


async def test_the_tenant_setting_ends_with_its_transaction(
    app_engine: AsyncEngine, cases_of_two_ngos: dict[uuid.UUID, str]
) -> None:
    # One pooled connection: the next transaction on it must not inherit AKT.
    async with app_engine.connect() as conn:
        async with conn.begin():
            await as_tenant(conn, AKT)
            assert (await conn.execute(text("SELECT count(*) FROM cases"))).scalar_one() > 0
        async with conn.begin():
            count = (await conn.execute(text("SELECT count(*) FROM cases"))).scalar_one()
    assert count == 0, "the tenant of a finished transaction leaked into the next one"


async def _refused(conn: AsyncConnection, statement: str, params: dict[str, Any]) -> bool:
    try:
        async with conn.begin_nested():
            await conn.execute(text(statement), params)
    except DBAPIError as error:
        assert "row-level security" in str(error.orig), error
        return True
    return False


async def test_writing_a_row_in_another_tenants_name_is_refused(
    intake: Intake, app_engine: AsyncEngine, cases_of_two_ngos: dict[uuid.UUID, str]
) -> None:
    contact_id = uuid.uuid4()
    async with app_engine.connect() as conn:
        await conn.begin()
        await as_tenant(conn, AKT)
        assert await _refused(
            conn,
            "INSERT INTO anonymous_contacts (id, tenant_id, received_on, mode, topic, sex, "
            "recorded_by) VALUES (:id, :t, current_date, 'hotline', 'other', 'unknown', 'x')",
            {"id": contact_id, "t": TLD},
        ), "AKT inserted a row in TLD's name"
        assert await _refused(
            conn,
            "UPDATE cases SET tenant_id = :t WHERE id = :id",
            {"t": TLD, "id": uuid.UUID(cases_of_two_ngos[AKT])},
        ), "AKT handed its case over to TLD by an UPDATE"
        # TLD's rows cannot even be found to be changed.
        changed = await conn.execute(
            text("UPDATE cases SET notes = 'overwritten' WHERE id = :id"),
            {"id": uuid.UUID(cases_of_two_ngos[TLD])},
        )
        assert changed.rowcount == 0, "AKT changed TLD's case"  # type: ignore[attr-defined]
        await conn.rollback()
    assert await intake.count("anonymous_contacts", "id = :id", id=contact_id) == 0
    assert await intake.count("cases", "notes = 'overwritten'") == 0


async def test_every_table_with_a_tenant_column_forces_row_level_security(
    intake: Intake,
) -> None:
    assert "cases" in await tenant_tables(intake)
    async with intake.admin_engine.connect() as conn:
        unprotected = list((await conn.execute(text(tables_without_forced_rls_sql()))).scalars())
    assert not unprotected, f"tables of NGO data without FORCE row-level security: {unprotected}"


async def test_the_application_role_cannot_bypass_row_level_security(
    app_engine: AsyncEngine,
) -> None:
    async with app_engine.connect() as conn:
        superuser, bypass = (
            await conn.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
        owned = list(
            (
                await conn.execute(
                    text(
                        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                        "c.relnamespace WHERE c.relowner = (SELECT oid FROM pg_roles WHERE "
                        "rolname = current_user) AND n.nspname NOT IN "
                        "('pg_catalog', 'information_schema')"
                    )
                )
            ).scalars()
        )
    assert not superuser, "the application connects as a superuser"
    assert not bypass, "the application role has BYPASSRLS"
    assert not owned, f"the application role owns {owned}: owners skip unforced policies"


async def _indexes_of(intake: Intake, case_id: str) -> tuple[list[str], list[str]]:
    async with intake.admin_engine.connect() as conn:
        names, documents = (
            await conn.execute(
                text(
                    "SELECT p.name_indexes, p.document_indexes FROM persons p "
                    "JOIN cases c ON c.person_id = p.id WHERE c.id = :id"
                ),
                {"id": case_id},
            )
        ).one()
    return list(names), list(documents)


async def test_person_matching_answers_only_the_current_ngos_persons(
    intake: Intake, app_engine: AsyncEngine, cases_of_two_ngos: dict[uuid.UUID, str]
) -> None:
    """persons_matching (migration 0008) reads persons unfiltered, as its owner, to use the
    GIN indexes: it must filter by the transaction's tenant itself."""
    lookup = text("SELECT * FROM persons_matching(CAST(:n AS text[]), CAST(:d AS text[]))")
    # Both NGOs registered the same person: each under its own keys, so the indexes differ.
    akt_names, akt_documents = await _indexes_of(intake, cases_of_two_ngos[AKT])
    async with app_engine.connect() as conn:
        async with conn.begin():
            await as_tenant(conn, AKT)
            akt = set((await conn.execute(lookup, {"n": akt_names, "d": akt_documents})).scalars())
        async with conn.begin():
            await as_tenant(conn, TLD)
            tld = set((await conn.execute(lookup, {"n": akt_names, "d": akt_documents})).scalars())
        async with conn.begin():  # no tenant at all
            nobody = set(
                (await conn.execute(lookup, {"n": akt_names, "d": akt_documents})).scalars()
            )
    async with intake.admin_engine.connect() as conn:
        akt_person = (
            await conn.execute(
                text("SELECT person_id FROM cases WHERE id = :id"), {"id": cases_of_two_ngos[AKT]}
            )
        ).scalar_one()
    assert akt_person in akt, "AKT's own person was not found by its own indexes"
    assert tld == set(), "TLD's transaction got AKT's persons"
    assert nobody == set(), "a transaction without a tenant got persons"


async def test_person_matching_uses_the_gin_indexes_the_application_role_cannot(
    intake: Intake, app_engine: AsyncEngine, cases_of_two_ngos: dict[uuid.UUID, str]
) -> None:
    """The reason for the function: under row-level security PostgreSQL may not use the GIN
    indexes for array overlap (not leakproof), so the application role's own query read
    every person of its NGO. The function's owner, whom a policy lets read every row, can."""
    names, _ = await _indexes_of(intake, cases_of_two_ngos[AKT])
    query = text("EXPLAIN SELECT id FROM persons WHERE name_indexes && CAST(:n AS varchar(32)[])")

    async def plan(conn: AsyncConnection) -> str:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))  # use an index if allowed
        return "\n".join((await conn.execute(query, {"n": names})).scalars())

    async with app_engine.connect() as conn, conn.begin():
        await as_tenant(conn, AKT)
        as_application = await plan(conn)
    owner = create_async_engine(intake.db.owner_url, pool_size=1, max_overflow=0)
    try:
        async with owner.connect() as conn, conn.begin():
            as_owner = await plan(conn)
    finally:
        await owner.dispose()
    assert "ix_persons_name_indexes" in as_owner, as_owner
    assert "ix_persons_name_indexes" not in as_application, (
        "the application role can use the GIN index under RLS now: persons_matching is no "
        f"longer needed\n{as_application}"
    )
