"""The services' engine: a pooled connection the server ended is replaced before use, without
a round trip while the pool is busy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from tirek.db import create_engine


async def _terminate(pg_admin_dsn: str, pid: int) -> None:
    """End a backend as a restart or an administrator would, and wait until it is gone."""
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        gone = "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)"
        for _ in range(100):
            if await admin.fetchval(gone, pid):
                return
            await asyncio.sleep(0.02)
        pytest.fail("the terminated backend never went away")
    finally:
        await admin.close()


async def test_a_pooled_connection_the_server_ended_is_replaced_without_a_round_trip(
    make_database: Callable[[str], Awaitable[Any]], pg_admin_dsn: str
) -> None:
    db = await make_database("ping")
    engine = create_engine(db.app_url, pool_size=1, application_name="tirek-ping-test")
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        # The server ends the pooled connection (a restart, an administrator, a failover);
        # the event loop reads the end of its socket while the connection waits in the pool.
        await _terminate(pg_admin_dsn, first)
        await asyncio.sleep(0.1)
        async with engine.connect() as conn:
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first, "the pool handed out the connection the server had closed"
        async with engine.begin() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) == second
    finally:
        await engine.dispose()


async def test_a_pooled_connection_idle_a_while_is_pinged_and_replaced_if_dead(
    make_database: Callable[[str], Awaitable[Any]], pg_admin_dsn: str
) -> None:
    db = await make_database("ping")
    # Every connection counts as idle long enough to be pinged.
    engine = create_engine(db.app_url, pool_size=1, ping_idle_after=0)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        await _terminate(pg_admin_dsn, first)
        # Checked out at once, the ping (or the loop, if it read the socket's end first)
        # finds it dead: a new connection serves the request.
        async with engine.connect() as conn:
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
        async with engine.connect() as conn:  # pinged, alive: kept
            assert await conn.scalar(text("SELECT pg_backend_pid()")) == second
    finally:
        await engine.dispose()


def test_a_pool_too_small_for_a_services_listeners_is_refused_at_start() -> None:
    import pydantic

    from tirek.settings import ServiceSettings

    with pytest.raises(pydantic.ValidationError, match="db_pool_size"):
        ServiceSettings(db_pool_size=2)  # the relay's and a cache's LISTEN would hold both
    assert ServiceSettings(db_pool_size=4).db_pool_size == 4
