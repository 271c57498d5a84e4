"""Async engines and session factories, and telling an unreachable database apart."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

#: A pooled connection idle at least this long is pinged before use (one round trip, ``;``).
PING_IDLE_AFTER = 10.0


def _checked_in(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


def _check(
    dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any, *, ping_idle_after: float
) -> None:
    """Hand out a pooled connection only if the server has not closed it; ping it first if
    it has been idle a while. Raising ``DisconnectionError`` makes the pool replace it.

    Instead of ``pool_pre_ping``, which pinged on every checkout, that is every unit of work:
    a round trip per request (and SQLAlchemy's asyncpg dialect pings with BEGIN, ``;`` and
    ROLLBACK: three). A connection the server ended (a restart, a terminated backend, a
    failover) is closed by asyncpg as soon as the event loop reads the end of its socket, so
    a busy pool needs no round trip to know; one idle longer than ``ping_idle_after`` seconds
    is asked, since a middlebox may have dropped it without a word.
    """
    connection = dbapi_connection.driver_connection
    if connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")
    if time.monotonic() - record.info.get("idle_since", 0.0) < ping_idle_after:
        return
    try:
        dbapi_connection.await_(connection.fetchrow(";"))
    except Exception as error:
        raise DisconnectionError(f"a pooled connection failed its ping: {error!r}") from error


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    application_name: str = "tirek",
    ping_idle_after: float = PING_IDLE_AFTER,
) -> AsyncEngine:
    """An async engine on asyncpg with a bounded pool whose connections are checked before
    use (survives a DB restart; see :func:`_check`).

    The pool opens at most ``pool_size`` connections and keeps every one it opened (until
    ``pool_recycle``); a request beyond them waits for one. No overflow: SQLAlchemy closes an
    overflow connection as soon as it is returned, so with more requests in flight than kept
    connections every request opened one, which started a PostgreSQL backend (fork,
    authentication, catalog caches) and asyncpg's type introspection each time. Intake under
    ``make bench`` (16 in flight; 10 kept, 10 more overflowing) registered 15 % more cases
    per second once it kept them (docs/benchmarks.md).
    """
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name}},
    )
    pool = engine.sync_engine.pool
    event.listen(pool, "connect", _checked_in)
    event.listen(pool, "checkin", _checked_in)
    event.listen(pool, "checkout", partial(_check, ping_idle_after=ping_idle_after))
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (views serialise after it)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


#: SQLSTATEs that say the server is unreachable, not that the statement is wrong: class 08
#: (connection exceptions), and an administrator's or a crash's shutdown, or a server still
#: starting up.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
#: Classes of SQLSTATE that say the server cannot do the work now, whatever the statement:
#: 08 (connection exceptions) and 53 (insufficient resources: a full disk, out of memory,
#: too many connections). ``make test-faults`` filled PostgreSQL's disk: requests answered
#: 500 and consumers spent their deliveries on ``53100 disk_full``.
_UNAVAILABLE_CLASSES = ("08", "53")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means the database could not be reached.

    Such a failure is the infrastructure's, not the request's or the message's: an HTTP
    request answers 503, an event handler is retried in place (see
    :mod:`tirek.messaging.broker`) instead of spending its bounded deliveries.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OSError | PoolTimeout | asyncpg.PostgresConnectionError):
            return True
        if isinstance(current, asyncpg.InterfaceError) and "connection" in str(current).lower():
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and (
            sqlstate.startswith(_UNAVAILABLE_CLASSES) or sqlstate in _UNAVAILABLE_SQLSTATES
        ):
            return True
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return False
