"""What every service's lifespan does with its database and broker, in one place.

::

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with connected(app, engine=engine, broker=broker, naming=naming,
                             tracer_provider=tracer_provider, run_relay=run_relay):
            ...  # the service's own background work
            yield

Starts the broker (its subscribers) and the outbox relay, registers the ``database`` and
``broker`` readiness checks, and on the way out stops the relay and the broker and disposes of
the engine, in that order (the relay needs both until it has stopped).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from tirek.messaging.naming import Naming
from tirek.messaging.outbox import OutboxRelay
from tirek.web.health import database_check, nats_check


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
    try:
        yield relay
    finally:
        if run_relay:
            await relay.stop()
        await broker.stop()
        await engine.dispose()
