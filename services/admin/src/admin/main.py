"""Admin's application: wiring only — lifespan, routers, the outbox relay."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider

from admin.agreements import views as agreement_views
from admin.deadletters import views as dead_letter_views
from admin.identity import views as user_views
from admin.identity.keycloak import KeycloakIdentityProvider
from admin.identity.provider import IdentityProvider
from admin.settings import AdminSettings, get_settings
from admin.tenants import views as tenant_views
from tirek.db import create_engine, session_factory
from tirek.messaging.broker import create_broker
from tirek.messaging.naming import Naming
from tirek.web import create_service_app
from tirek.web.runtime import connected

Clock = Callable[[], datetime]

__all__ = ["create_app"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def identity_from_settings(settings: AdminSettings) -> IdentityProvider | None:
    """The Keycloak admin adapter for the configured identity provider (Keycloak, or the
    development issuer: the same admin API); ``None`` (user endpoints answer 503) without a
    client secret. Without ``TIREK_KEYCLOAK_URL`` the provider is the issuer's host."""
    if not settings.keycloak_client_secret:
        return None
    return KeycloakIdentityProvider(
        server_url=settings.identity_base_url(),
        realm=settings.keycloak_realm,
        client_id=settings.keycloak_client_id,
        client_secret=settings.keycloak_client_secret,
    )


def create_app(
    settings: AdminSettings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    clock: Clock = _utc_now,
    run_relay: bool = True,
    identity: IdentityProvider | None = None,
) -> FastAPI:
    """Build admin. ``clock`` is injectable for tests; ``run_relay=False`` leaves publishing to
    a test that drives the outbox relay itself; ``identity`` replaces the provider built from
    the settings."""
    settings = settings or get_settings()
    identity = identity or identity_from_settings(settings)
    naming = Naming(settings.namespace)
    engine = create_engine(
        settings.db_url, pool_size=settings.db_pool_size, application_name="admin"
    )
    # Admin consumes no events: the broker publishes (outbox relay, dead-letter replays) and
    # reads the DLQ stream.
    broker: NatsBroker = create_broker(settings, tracer_provider=tracer_provider)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with connected(
                app,
                engine=engine,
                broker=broker,
                naming=naming,
                tracer_provider=tracer_provider,
                run_relay=run_relay,
            ):
                yield
        finally:
            if identity is not None:
                await identity.close()

    app = create_service_app(
        settings,
        title="Tirek admin",
        version="0.1.0",
        lifespan=lifespan,
        tracer_provider=tracer_provider,
    )
    app.state.sessions = session_factory(engine)
    app.state.engine = engine
    app.state.broker = broker
    app.state.naming = naming
    app.state.clock = clock
    app.state.identity = identity
    for router in (
        tenant_views.router,
        user_views.router,
        agreement_views.router,
        dead_letter_views.router,
    ):
        app.include_router(router)
    return app
