"""Intake's application: wiring only — lifespan, routers, event handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider

from intake import assistance, cases, consents, contacts, persons
from intake.access_log import views as access_log_views
from intake.assistance import views as assistance_views
from intake.cases import views as case_views
from intake.consents import views as consent_views
from intake.contacts import views as contact_views
from intake.duplicates import views as duplicate_views
from intake.handlers import register_handlers
from intake.models import Base
from intake.persons import views as person_views
from intake.privacy import keys as privacy_keys
from intake.privacy import retention
from intake.privacy import views as privacy_views
from intake.settings import IntakeSettings, get_settings
from intake.tenants.offboarding import TENANT_DATA
from tirek.crypto import Keyring, key_provider_for
from tirek.db import create_engine, session_factory
from tirek.messaging.broker import create_broker
from tirek.messaging.naming import Naming
from tirek.web import create_service_app
from tirek.web.runtime import connected
from tirek.web.tenant_export import tenant_export_router

Clock = Callable[[], datetime]

_log = logging.getLogger("intake")

__all__ = ["assistance", "cases", "consents", "contacts", "create_app", "persons"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: IntakeSettings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    clock: Clock = _utc_now,
    run_relay: bool = True,
    run_retention: bool = True,
) -> FastAPI:
    """Build intake. ``clock`` is injectable for tests; ``run_relay=False`` leaves publishing to
    a test that drives the outbox relay itself, ``run_retention=False`` the retention job to a
    test that runs it (``intake.privacy.retention.run``)."""
    settings = settings or get_settings()
    naming = Naming(settings.namespace)
    engine = create_engine(
        settings.db_url, pool_size=settings.db_pool_size, application_name="intake"
    )
    broker: NatsBroker = create_broker(settings, tracer_provider=tracer_provider)
    sessions = session_factory(engine)
    keys = key_provider_for(settings)
    keyring = Keyring(keys, sessions, refresh_seconds=settings.key_refresh_seconds)
    register_handlers(broker, naming=naming, sessions=sessions, keyring=keyring, clock=clock)

    async def retention_job() -> None:
        # What is due comes from the database, so a restart loses nothing.
        while True:
            try:
                now = clock()
                await retention.run_all(sessions, keyring, today=now.date(), now=now)
            except Exception:  # a database hiccup must not end the job
                _log.exception("retention run failed")
            await asyncio.sleep(settings.retention_interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with connected(
            app,
            engine=engine,
            broker=broker,
            naming=naming,
            tracer_provider=tracer_provider,
            run_relay=run_relay,
        ):
            tasks = []
            if settings.seal_plaintext_at_start:
                tasks.append(
                    asyncio.create_task(
                        privacy_keys.STORE.seal_plaintext_at_start(sessions, keyring),
                        name="seal-plaintext",
                    )
                )
            if run_retention:
                tasks.append(asyncio.create_task(retention_job(), name="retention"))
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app = create_service_app(
        settings,
        title="Tirek intake",
        version="0.1.0",
        lifespan=lifespan,
        tracer_provider=tracer_provider,
    )
    app.state.sessions = sessions
    app.state.engine = engine
    app.state.broker = broker
    app.state.naming = naming
    app.state.clock = clock
    app.state.keys = keys
    app.state.keyring = keyring
    for router in (
        case_views.router,
        assistance_views.router,
        consent_views.router,
        contact_views.router,
        person_views.router,
        duplicate_views.router,
        access_log_views.router,
        privacy_views.router,
        # The leaving NGO's export of its data, before tenant.offboarded erases it.
        tenant_export_router(TENANT_DATA, sealed=Base),
    ):
        app.include_router(router)
    return app
