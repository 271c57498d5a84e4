"""Reporting's application: wiring only — lifespan, routers, event handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider

from reporting.dashboard import views as dashboard_views
from reporting.handlers import register_handlers
from reporting.offboarding import TENANT_DATA
from reporting.projections import views as rebuild_views
from reporting.reports import views as report_views
from reporting.reports.indicators import load_indicators
from reporting.settings import ReportingSettings, get_settings
from tirek.db import create_engine, session_factory
from tirek.messaging.broker import create_broker
from tirek.messaging.naming import Naming
from tirek.web import create_service_app
from tirek.web.runtime import connected
from tirek.web.tenant_export import tenant_export_router

Clock = Callable[[], datetime]

__all__ = ["create_app"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: ReportingSettings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    clock: Clock = _utc_now,
    consume: bool = True,
) -> FastAPI:
    """Build reporting. ``clock`` is injectable for tests; ``consume=False`` starts no
    event handlers (a test that drives projections itself)."""
    settings = settings or get_settings()
    load_indicators()  # a broken indicator file fails here, not on the first request
    naming = Naming(settings.namespace)
    engine = create_engine(
        settings.db_url, pool_size=settings.db_pool_size, application_name="reporting"
    )
    sessions = session_factory(engine)
    broker: NatsBroker = create_broker(settings, tracer_provider=tracer_provider)
    if consume:
        register_handlers(broker, naming=naming, sessions=sessions)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Reporting publishes nothing yet: no relay runs.
        async with connected(app, engine=engine, broker=broker, naming=naming, run_relay=False):
            yield

    app = create_service_app(
        settings,
        title="Tirek reporting",
        version="0.1.0",
        lifespan=lifespan,
        tracer_provider=tracer_provider,
    )
    app.state.sessions = sessions
    app.state.engine = engine
    app.state.broker = broker
    app.state.naming = naming
    app.state.clock = clock
    app.include_router(report_views.router)
    app.include_router(rebuild_views.router)
    app.include_router(dashboard_views.router)
    # The leaving NGO's export of its facts (reporting keeps them, relabelled: offboarding).
    app.include_router(tenant_export_router(TENANT_DATA))
    return app
