"""What every service's lifespan does with its database and broker, in one place.

::

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with connected(app, engine=engine, broker=broker, naming=naming,
                             tracer_provider=tracer_provider, run_relay=run_relay):
            ...  # the service's own background work
            yield

Starts the broker (its subscribers), the outbox relay and the hourly purge of expired
idempotency keys, registers the ``database`` and ``broker`` readiness checks, and on the way
out stops the purge, the relay and the broker and disposes of the engine, in that order (the
relay needs both until it has stopped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from fastapi import FastAPI
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from tirek.db.engine import session_factory
from tirek.db.idempotency import purge_expired_keys
from tirek.db.unit_of_work import UnitOfWork
from tirek.messaging.naming import Naming
from tirek.messaging.outbox import OutboxRelay
from tirek.web.health import database_check, nats_check

_log = logging.getLogger("tirek.web.runtime")
#: Seconds between two purges of expired idempotency keys.
PURGE_INTERVAL: Final = 3600.0


@asynccontextmanager
async def connected(
    app: FastAPI,
    *,
    engine: AsyncEngine,
    broker: NatsBroker,
    naming: Naming,
    tracer_provider: TracerProvider | None = None,
    run_relay: bool = True,
) -> AsyncIterator[OutboxRelay]:
    """Run the broker and (unless ``run_relay`` is false: a test drives it) the outbox relay
    for the duration of the block; the relay is also at ``app.state.relay``."""
    await broker.start()
    relay = OutboxRelay(
        engine=engine, nats=broker.connection, naming=naming, tracer_provider=tracer_provider
    )
    app.state.relay = relay
    if run_relay:
        await relay.start()
    app.state.readiness_checks["database"] = database_check(engine)
    app.state.readiness_checks["broker"] = nats_check(broker.connection)
    purge = asyncio.create_task(_purge_idempotency_keys(engine), name="tirek-idempotency-purge")
    try:
        yield relay
    finally:
        purge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge
        if run_relay:
            await relay.stop()
        await broker.stop()
        await engine.dispose()


async def _purge_idempotency_keys(engine: AsyncEngine) -> None:
    """Delete expired idempotency keys now and every :data:`PURGE_INTERVAL` seconds."""
    sessions = session_factory(engine)
    while True:
        try:
            async with UnitOfWork(sessions, None) as session:
                purged = await purge_expired_keys(session)
            if purged:
                _log.info("expired idempotency keys purged", extra={"count": purged})
        except Exception:
            # A database without the table (not migrated yet) or an outage: try again later.
            _log.warning("could not purge expired idempotency keys", exc_info=True)
        await asyncio.sleep(PURGE_INTERVAL)
