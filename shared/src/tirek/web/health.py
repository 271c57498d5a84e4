"""Readiness checks: is the service's database and broker reachable right now?

A check is an async callable that returns when the dependency answers and raises otherwise.
``/health/ready`` runs every check of ``app.state.readiness_checks`` with a short timeout.
Services usually add theirs in the lifespan, once the engine and the broker exist::

    app.state.readiness_checks["database"] = database_check(engine)
    app.state.readiness_checks["nats"] = nats_check(broker_connection)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Literal

from nats.aio.client import Client as NatsClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "CheckOutcome",
    "ReadinessCheck",
    "database_check",
    "nats_check",
    "run_checks",
]

ReadinessCheck = Callable[[], Awaitable[None]]
CheckOutcome = Literal["ok", "failing", "timeout"]

#: Seconds one check may take before the service counts as not ready.
DEFAULT_CHECK_TIMEOUT: Final = 2.0

_log = logging.getLogger("tirek.web.health")


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    """A check that runs ``SELECT 1`` on a connection from ``engine``'s pool."""

    async def check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


def nats_check(nc: NatsClient) -> ReadinessCheck:
    """A check that the NATS connection is up and answers a round trip (PING/PONG)."""

    async def check() -> None:
        if not nc.is_connected:
            raise ConnectionError("NATS connection is not connected")
        await nc.flush(timeout=1)

    return check


async def _run_one(name: str, check: ReadinessCheck, limit: float) -> CheckOutcome:
    try:
        async with asyncio.timeout(limit):
            await check()
    except TimeoutError:
        _log.warning("readiness check timed out", extra={"check": name})
        return "timeout"
    except Exception as exc:
        # The type only: a driver's message may name hosts, users or quote SQL.
        _log.warning(
            "readiness check failed",
            extra={"check": name, "error_type": type(exc).__qualname__},
        )
        return "failing"
    return "ok"


async def run_checks(
    checks: Mapping[str, ReadinessCheck], *, seconds_each: float = DEFAULT_CHECK_TIMEOUT
) -> dict[str, CheckOutcome]:
    """Run every check concurrently, each bounded by ``seconds_each``; outcome by name."""
    names = list(checks)
    outcomes = await asyncio.gather(*(_run_one(name, checks[name], seconds_each) for name in names))
    return dict(zip(names, outcomes, strict=True))
