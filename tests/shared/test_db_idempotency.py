"""Idempotency keys in the unit of work, on a real PostgreSQL as the application role.

The key and the answer commit in the transaction of the effect, or neither does; concurrent
holders of one key wait for each other; tenants never see each other's keys.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

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

from tirek.crypto import StaticKeyProvider
from tirek.db import UnitOfWork, session_factory
from tirek.db.idempotency import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    IdempotentRequest,
    StoredResult,
    create_idempotency_table,
    purge_expired_keys,
)
from tirek.db.rls import enable_tenant_rls

KEYS = StaticKeyProvider(base64.b64encode(secrets.token_bytes(32)).decode())
AKT, OSH = uuid.uuid4(), uuid.uuid4()


def _migrate(connection: Connection, app_role: str) -> None:
    create_idempotency_table(Operations(MigrationContext.configure(connection)), app_role)
    connection.execute(text("CREATE TABLE effects (tenant_id uuid NOT NULL, note text)"))
    enable_tenant_rls(Operations(MigrationContext.configure(connection)), "effects")
    connection.execute(text(f'GRANT SELECT, INSERT ON effects TO "{app_role}"'))


@pytest.fixture(scope="module")
async def engines(
    make_database: Callable[[str], Awaitable[Any]], pg_admin_dsn: str
) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """The application role's engine, and a superuser's (assertions only: it skips RLS)."""
    db = await make_database("idem")
    owner = create_async_engine(db.owner_url)
    async with owner.begin() as conn:
        await conn.run_sync(_migrate, db.app_role)
    await owner.dispose()
    app = create_async_engine(db.app_url)
    superuser = create_async_engine(
        make_url(pg_admin_dsn).set(drivername="postgresql+asyncpg", database=db.name)
    )
    yield app, superuser
    await app.dispose()
    await superuser.dispose()


@pytest.fixture
def sessions(engines: tuple[AsyncEngine, AsyncEngine]) -> async_sessionmaker[AsyncSession]:
    return session_factory(engines[0])


def _request(
    key: str, *, tenant: uuid.UUID = AKT, fingerprint: str = "f1", wait: float = 10
) -> IdempotentRequest:
    return IdempotentRequest(
        key=key,
        fingerprint=fingerprint,
        tenant_id=tenant,
        principal="user-1",
        keys=KEYS,
        claim_wait=timedelta(seconds=wait),
    )


async def _effects(engines: tuple[AsyncEngine, AsyncEngine], note: str) -> int:
    async with engines[1].connect() as conn:
        return int(
            (
                await conn.execute(
                    text("SELECT count(*) FROM effects WHERE note = :n"), {"n": note}
                )
            ).scalar_one()
        )


async def _act(
    sessions: async_sessionmaker[AsyncSession], request: IdempotentRequest, note: str
) -> None:
    async with UnitOfWork(sessions, request.tenant_id, idempotency=request) as session:
        await session.execute(
            text("INSERT INTO effects VALUES (:t, :n)"), {"t": request.tenant_id, "n": note}
        )


async def test_the_answer_commits_with_the_effect_and_a_retry_gets_it(
    sessions: async_sessionmaker[AsyncSession], engines: tuple[AsyncEngine, AsyncEngine]
) -> None:
    key, note = str(uuid.uuid4()), str(uuid.uuid4())
    first = _request(key)
    await _act(sessions, first, note)
    assert first.held
    assert await _effects(engines, note) == 0, "the effect committed before its answer"
    await first.finish(status_code=201, media_type="application/json", body=b'{"id": 1}')
    assert await _effects(engines, note) == 1

    with pytest.raises(StoredResult) as stored:
        await _act(sessions, _request(key), note)
    assert (stored.value.status_code, stored.value.body) == (201, b'{"id": 1}')
    assert stored.value.media_type == "application/json"
    assert await _effects(engines, note) == 1


async def test_a_crash_before_the_commit_leaves_neither_effect_nor_key(
    sessions: async_sessionmaker[AsyncSession], engines: tuple[AsyncEngine, AsyncEngine]
) -> None:
    key, note = str(uuid.uuid4()), str(uuid.uuid4())
    first = _request(key)
    await _act(sessions, first, note)
    # The process dies with the transaction open: its connection goes away uncommitted.
    session = first._session
    assert session is not None
    await (await session.connection()).invalidate()
    await session.close()
    assert await _effects(engines, note) == 0

    retry = _request(key)
    await _act(sessions, retry, note)
    await retry.finish(status_code=201, media_type=None, body=b"{}")
    assert await _effects(engines, note) == 1, "the retry after a crash did not act"


async def test_a_failed_use_case_or_an_error_answer_releases_the_key(
    sessions: async_sessionmaker[AsyncSession], engines: tuple[AsyncEngine, AsyncEngine]
) -> None:
    key, note = str(uuid.uuid4()), str(uuid.uuid4())
    failing = _request(key)
    with pytest.raises(RuntimeError):
        async with UnitOfWork(sessions, AKT, idempotency=failing) as session:
            await session.execute(
                text("INSERT INTO effects VALUES (:t, :n)"), {"t": AKT, "n": note}
            )
            raise RuntimeError("the use case refused")
    assert failing.claimable, "a rolled-back claim kept the key"

    answered_with_error = _request(key)
    await _act(sessions, answered_with_error, note)
    await answered_with_error.abandon()
    assert await _effects(engines, note) == 0

    final = _request(key)
    await _act(sessions, final, note)
    await final.finish(status_code=200, media_type=None, body=b"ok")
    assert await _effects(engines, note) == 1


async def test_the_same_key_for_another_request_is_refused(
    sessions: async_sessionmaker[AsyncSession], engines: tuple[AsyncEngine, AsyncEngine]
) -> None:
    key, note = str(uuid.uuid4()), str(uuid.uuid4())
    first = _request(key)
    await _act(sessions, first, note)
    await first.finish(status_code=201, media_type=None, body=b"{}")
    with pytest.raises(IdempotencyKeyReused):
        await _act(sessions, _request(key, fingerprint="f2"), note)
    assert await _effects(engines, note) == 1


async def test_a_concurrent_holder_is_waited_for_then_answered(
    sessions: async_sessionmaker[AsyncSession], engines: tuple[AsyncEngine, AsyncEngine]
) -> None:
    key, note = str(uuid.uuid4()), str(uuid.uuid4())
    first = _request(key)
    await _act(sessions, first, note)  # holds the key, not yet answered
    second = asyncio.create_task(_act(sessions, _request(key), note))
    await asyncio.sleep(0.3)
    assert not second.done(), "the second request did not wait for the first"
    await first.finish(status_code=201, media_type=None, body=b"first")
    with pytest.raises(StoredResult) as stored:
        await second
    assert stored.value.body == b"first"
    assert await _effects(engines, note) == 1


async def test_a_holder_that_does_not_finish_in_time_answers_key_in_use(
    sessions: async_sessionmaker[AsyncSession], engines: tuple[AsyncEngine, AsyncEngine]
) -> None:
    key, note = str(uuid.uuid4()), str(uuid.uuid4())
    first = _request(key)
    await _act(sessions, first, note)
    with pytest.raises(IdempotencyKeyInUse):
        await _act(sessions, _request(key, wait=0.2), note)
    await first.finish(status_code=201, media_type=None, body=b"{}")
    assert await _effects(engines, note) == 1


async def test_keys_are_per_tenant_and_the_purge_removes_only_expired_ones(
    sessions: async_sessionmaker[AsyncSession], engines: tuple[AsyncEngine, AsyncEngine]
) -> None:
    key = str(uuid.uuid4())
    for tenant in (AKT, OSH):
        request = _request(key, tenant=tenant)
        await _act(sessions, request, f"{key}-{tenant}")
        await request.finish(status_code=201, media_type=None, body=str(tenant).encode())

    async with UnitOfWork(sessions, OSH) as session:
        visible = (await session.execute(text("SELECT tenant_id FROM idempotency_keys"))).scalars()
        assert set(visible) == {OSH}, "a tenant sees another tenant's keys"
    async with UnitOfWork(sessions, None) as session:
        hidden = await session.execute(text("SELECT count(*) FROM idempotency_keys"))
        assert hidden.scalar_one() == 0, "keys are visible without a tenant"

    async with engines[1].begin() as conn:
        await conn.execute(
            text(
                "UPDATE idempotency_keys SET expires_at = now() - interval '1 s' "
                "WHERE key = :k AND tenant_id = :t"
            ),
            {"k": key, "t": AKT},
        )
    async with UnitOfWork(sessions, None) as session:
        assert await purge_expired_keys(session) >= 1
    async with engines[1].connect() as conn:
        left = await conn.execute(
            text("SELECT tenant_id FROM idempotency_keys WHERE key = :k"), {"k": key}
        )
        assert set(left.scalars()) == {OSH}
