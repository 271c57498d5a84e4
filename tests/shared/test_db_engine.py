"""The services' engine: its cheaper pre-ping still replaces a connection the server dropped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from tirek.db import create_engine


async def test_a_pooled_connection_the_server_killed_is_replaced_on_checkout(
    make_database: Callable[[str], Awaitable[Any]], pg_admin_dsn: str
) -> None:
    db = await make_database("ping")
    engine = create_engine(db.app_url, pool_size=1, application_name="tirek-ping-test")
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        # The server ends the pooled connection (a restart, an administrator, a failover).
        admin = await asyncpg.connect(pg_admin_dsn)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        async with engine.connect() as conn:
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first, "the pool handed out the connection the server had closed"
        # A healthy connection is pinged without a transaction around the ping: still usable.
        async with engine.begin() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) == second
    finally:
        await engine.dispose()


def test_a_pool_too_small_for_a_services_listeners_is_refused_at_start() -> None:
    import pydantic

    from tirek.settings import ServiceSettings

    with pytest.raises(pydantic.ValidationError, match="db_pool_size"):
        ServiceSettings(db_pool_size=2)  # the relay's and a cache's LISTEN would hold both
    assert ServiceSettings(db_pool_size=4).db_pool_size == 4
