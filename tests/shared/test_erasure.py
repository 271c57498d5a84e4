"""The kernel's tenant erasure and export on a real PostgreSQL database: every table holding a
tenant's rows is found from the schema itself (owner columns, foreign keys, declared links),
erased children first under the tenant's row-level security, idempotently, and no other
tenant's row is touched; a table the role may not delete from stops it before it starts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tirek.db import UnitOfWork
from tirek.db.erasure import ErasureRefused, TenantData, erase_tenant, export_tenant, grant_erasure
from tirek.db.rls import enable_tenant_rls, grant_statements
from tirek.testing.plugin import MakeDatabase

A, B = uuid.uuid4(), uuid.uuid4()
DATA = TenantData(
    owner_columns=("tenant_id", "sender_tenant", "receiver_tenant"),
    table_owners={"directory": ("id",)},
    links={"notes.parent_ref": "parents.id"},
    keep=frozenset({"kept"}),
)
SCHEMA = """
CREATE TABLE parents (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, label text);
CREATE TABLE children (id uuid PRIMARY KEY, parent_id uuid NOT NULL REFERENCES parents(id));
CREATE TABLE grandchildren (id uuid PRIMARY KEY, child_id uuid NOT NULL REFERENCES children(id));
CREATE TABLE pairs (id uuid PRIMARY KEY, sender_tenant uuid NOT NULL, receiver_tenant uuid NOT NULL);
CREATE TABLE notes (id uuid PRIMARY KEY, parent_ref uuid NOT NULL);
CREATE TABLE directory (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE kept (id uuid PRIMARY KEY, tenant_id uuid NOT NULL);
CREATE TABLE unrelated (id uuid PRIMARY KEY, tenant_hint uuid);
"""
TABLES = (
    "parents",
    "children",
    "grandchildren",
    "pairs",
    "notes",
    "directory",
    "kept",
    "unrelated",
)


def _migrate(connection: Connection, app_role: str) -> list[str]:
    for statement in SCHEMA.strip().split(";\n"):
        connection.execute(text(statement))
    op = Operations(MigrationContext.configure(connection))
    enable_tenant_rls(op, "parents")
    enable_tenant_rls(op, "kept")
    for table in TABLES:
        for statement in grant_statements(table, app_role):
            connection.execute(text(statement))
    return grant_erasure(op, app_role, DATA)


@pytest.fixture(scope="module")
async def db(
    make_database: MakeDatabase, pg_admin_dsn: str
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], AsyncEngine, list[str]]]:
    urls = await make_database("erasure")
    owner = create_async_engine(urls.owner_url)
    async with owner.begin() as conn:
        granted = await conn.run_sync(_migrate, urls.app_role)
    await owner.dispose()
    app = create_async_engine(urls.app_url)
    superuser = create_async_engine(
        make_url(pg_admin_dsn).set(drivername="postgresql+asyncpg", database=urls.name)
    )
    yield async_sessionmaker(app, expire_on_commit=False), superuser, granted
    await app.dispose()
    await superuser.dispose()


async def _seed(superuser: AsyncEngine, tenant: uuid.UUID, other: uuid.UUID) -> None:
    parent, child = uuid.uuid4(), uuid.uuid4()
    statements = [
        ("INSERT INTO parents VALUES (:p, :t, 'a case')", {}),
        ("INSERT INTO children VALUES (:c, :p)", {}),
        ("INSERT INTO grandchildren VALUES (gen_random_uuid(), :c)", {}),
        # A referral from the tenant, and one to it: both are the tenant's.
        ("INSERT INTO pairs VALUES (gen_random_uuid(), :t, :o)", {}),
        ("INSERT INTO pairs VALUES (gen_random_uuid(), :o, :t)", {}),
        ("INSERT INTO notes VALUES (gen_random_uuid(), :p)", {}),
        ("INSERT INTO directory VALUES (:t, 'NGO')", {}),
        ("INSERT INTO kept VALUES (gen_random_uuid(), :t)", {}),
        ("INSERT INTO unrelated VALUES (gen_random_uuid(), :t)", {}),
    ]
    async with superuser.begin() as conn:
        for sql, _ in statements:
            await conn.execute(text(sql), {"p": parent, "c": child, "t": tenant, "o": other})


async def _counts(superuser: AsyncEngine) -> dict[str, int]:
    async with superuser.connect() as conn:
        return {
            t: int((await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one())
            for t in TABLES
        }


async def _rows_of(superuser: AsyncEngine, tenant: uuid.UUID) -> dict[str, int]:
    where = {
        "parents": "tenant_id = :t",
        "children": "parent_id IN (SELECT id FROM parents WHERE tenant_id = :t)",
        "pairs": "sender_tenant = :t OR receiver_tenant = :t",
        "notes": "parent_ref IN (SELECT id FROM parents WHERE tenant_id = :t)",
        "directory": "id = :t",
    }
    async with superuser.connect() as conn:
        return {
            table: int(
                (
                    await conn.execute(
                        text(f"SELECT count(*) FROM {table} WHERE {w}"), {"t": tenant}
                    )
                ).scalar_one()
            )
            for table, w in where.items()
        }


async def test_erasure_removes_every_row_of_the_tenant_and_nothing_of_another(
    db: tuple[async_sessionmaker[AsyncSession], AsyncEngine, list[str]],
) -> None:
    sessions, superuser, _ = db
    tenant, other = uuid.uuid4(), uuid.uuid4()
    await _seed(superuser, tenant, other)
    await _seed(superuser, other, uuid.uuid4())
    before = await _counts(superuser)
    others_before = await _rows_of(superuser, other)

    async with UnitOfWork(sessions, tenant) as session:
        erased = await erase_tenant(session, tenant, DATA)
    async with UnitOfWork(sessions, tenant) as session:
        again = await erase_tenant(session, tenant, DATA)

    assert await _rows_of(superuser, tenant) == dict.fromkeys(others_before, 0)
    assert await _rows_of(superuser, other) == {**others_before, "pairs": 2}
    after = await _counts(superuser)
    # grandchildren reach the tenant through children; kept and unrelated stay.
    assert {t: before[t] - after[t] for t in TABLES} == {
        "parents": 1,
        "children": 1,
        "grandchildren": 1,
        "pairs": 2,
        "notes": 1,
        "directory": 1,
        "kept": 0,
        "unrelated": 0,
    }
    assert erased["pairs"] == 2 and sum(erased.values()) == 7
    assert sum(again.values()) == 0, "a second erasure found more to delete"


async def test_the_export_holds_the_tenants_rows_parents_first_as_json(
    db: tuple[async_sessionmaker[AsyncSession], AsyncEngine, list[str]],
) -> None:
    sessions, superuser, _ = db
    tenant, other = uuid.uuid4(), uuid.uuid4()
    await _seed(superuser, tenant, other)
    await _seed(superuser, other, uuid.uuid4())

    async with UnitOfWork(sessions, tenant) as session:
        exported = await export_tenant(session, tenant, DATA)

    assert list(exported).index("parents") < list(exported).index("children")
    assert {table: len(rows) for table, rows in exported.items()} == {
        "parents": 1,
        "children": 1,
        "grandchildren": 1,
        "pairs": 2,
        "notes": 1,
        "directory": 1,
    }
    assert exported["parents"][0]["tenant_id"] == str(tenant)
    assert exported["parents"][0]["label"] == "a case"


async def test_the_migration_helper_grants_delete_on_exactly_the_erased_tables(
    db: tuple[async_sessionmaker[AsyncSession], AsyncEngine, list[str]],
) -> None:
    _, _, granted = db
    assert sorted(granted) == [
        "children",
        "directory",
        "grandchildren",
        "notes",
        "pairs",
        "parents",
    ]


async def test_a_table_without_the_grant_stops_the_erasure_before_anything_is_deleted(
    make_database: MakeDatabase,
) -> None:
    urls = await make_database("erasurenogrant")
    owner = create_async_engine(urls.owner_url)
    async with owner.begin() as conn:
        await conn.run_sync(_migrate, urls.app_role)
        # A table another change adds later, with the tenant's rows and no DELETE grant.
        await conn.execute(text("CREATE TABLE later (id uuid PRIMARY KEY, tenant_id uuid)"))
        await conn.execute(text(f'GRANT SELECT, INSERT ON later TO "{urls.app_role}"'))
        await conn.execute(text("INSERT INTO later VALUES (gen_random_uuid(), :t)"), {"t": A})
        await conn.execute(text("INSERT INTO directory VALUES (:t, 'NGO')"), {"t": A})
    await owner.dispose()
    app = create_async_engine(urls.app_url)
    sessions = async_sessionmaker(app, expire_on_commit=False)
    try:
        with pytest.raises(ErasureRefused, match="later"):
            async with UnitOfWork(sessions, A) as session:
                await erase_tenant(session, A, DATA)
        async with app.connect() as conn:
            kept = (await conn.execute(text("SELECT count(*) FROM directory"))).scalar_one()
    finally:
        await app.dispose()
    assert kept == 1, "the erasure deleted rows although it could not finish"
