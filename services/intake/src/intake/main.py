"""Intake's application: wiring only — lifespan, routers, event handlers."""

from __future__ import annotations

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
from intake.persons import views as person_views
from intake.settings import IntakeSettings, get_settings
from intake.tenants.offboarding import TENANT_DATA
from tirek.crypto import key_provider
from tirek.db import create_engine, session_factory
from tirek.messaging.broker import create_broker
from tirek.messaging.naming import Naming
from tirek.web import create_service_app
from tirek.web.runtime import connected
from tirek.web.tenant_export import tenant_export_router

Clock = Callable[[], datetime]

__all__ = ["assistance", "cases", "consents", "contacts", "create_app", "persons"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: IntakeSettings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    clock: Clock = _utc_now,
    run_relay: bool = True,
) -> FastAPI:
    """Build intake. ``clock`` is injectable for tests; ``run_relay=False`` leaves publishing to
    a test that drives the outbox relay itself."""
    settings = settings or get_settings()
    naming = Naming(settings.namespace)
    engine = create_engine(
        settings.db_url, pool_size=settings.db_pool_size, application_name="intake"
    )
    broker: NatsBroker = create_broker(settings, tracer_provider=tracer_provider)
    keys = key_provider(master_key=settings.master_key, master_key_file=settings.master_key_file)
    register_handlers(
        broker, naming=naming, sessions=session_factory(engine), keys=keys, clock=clock
    )

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
            yield

    app = create_service_app(
        settings,
        title="Tirek intake",
        version="0.1.0",
        lifespan=lifespan,
        tracer_provider=tracer_provider,
    )
    app.state.sessions = session_factory(engine)
    app.state.engine = engine
    app.state.broker = broker
    app.state.naming = naming
    app.state.clock = clock
    app.state.keys = keys
    for router in (
        case_views.router,
        assistance_views.router,
        consent_views.router,
        contact_views.router,
        person_views.router,
        duplicate_views.router,
        access_log_views.router,
        # The leaving NGO's export of its data, before tenant.offboarded erases it.
        tenant_export_router(TENANT_DATA),
    ):
        app.include_router(router)
    return app
