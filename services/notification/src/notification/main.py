"""Notification's application: wiring only — lifespan, routers, handlers, channels, dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider

from notification.channels import views as channel_views
from notification.channels.base import ChannelRegistry
from notification.channels.plugins import (
    EmailChannel,
    InboxChannel,
    TelegramChannel,
    WebhookChannel,
)
from notification.deliveries import views as delivery_views
from notification.deliveries.dispatcher import Dispatcher, RetryPolicy
from notification.deliveries.planning import Planner
from notification.handlers import register_handlers
from notification.inbox import views as inbox_views
from notification.recipients import views as recipient_views
from notification.rules import views as rule_views
from notification.rules.cache import PlanningCache
from notification.rules.listener import SetupListener
from notification.settings import NotificationSettings, get_settings
from notification.templates.render import Renderer
from notification.tenants.offboarding import TENANT_DATA
from tirek.crypto import key_provider_for
from tirek.db import create_engine, session_factory
from tirek.messaging.broker import create_broker
from tirek.messaging.naming import Naming
from tirek.web import create_service_app
from tirek.web.runtime import connected
from tirek.web.tenant_export import tenant_export_router

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: NotificationSettings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    clock: Clock = _utc_now,
    run_relay: bool = True,
    run_dispatcher: bool = True,
) -> FastAPI:
    """Build notification. ``clock`` is injectable; ``run_dispatcher=False`` leaves sending to
    a test that calls ``app.state.dispatcher.dispatch_due()`` itself."""
    settings = settings or get_settings()
    naming = Naming(settings.namespace)
    engine = create_engine(
        settings.db_url, pool_size=settings.db_pool_size, application_name="notification"
    )
    sessions = session_factory(engine)
    keys = key_provider_for(settings)
    renderer = Renderer()
    http = httpx.AsyncClient(timeout=settings.delivery_timeout, follow_redirects=False)
    channels = ChannelRegistry()
    channels.register(InboxChannel(sessions))
    channels.register(
        EmailChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.smtp_from,
            timeout=settings.delivery_timeout,
        )
    )
    channels.register(WebhookChannel(http))
    channels.register(TelegramChannel(http, settings.telegram_api_url))
    dispatcher = Dispatcher(
        sessions=sessions,
        channels=channels,
        keys=keys,
        renderer=renderer,
        clock=clock,
        retry=RetryPolicy(
            max_attempts=settings.max_attempts,
            base=settings.retry_base_seconds,
            cap=settings.retry_cap_seconds,
        ),
        timeout=settings.delivery_timeout,
        concurrency=settings.dispatch_concurrency,
        interval=settings.dispatch_interval,
        link_base=settings.public_url,
    )
    planner = Planner(
        sessions=sessions,
        renderer=renderer,
        link_base=settings.public_url,
        clock=clock,
        digest_hour=settings.digest_hour,
        cache=PlanningCache(settings.rule_cache_seconds),
    )
    # Forgets a tenant's setup as soon as any process commits a change to it.
    listener = SetupListener(engine, planner.cache)
    broker: NatsBroker = create_broker(settings, tracer_provider=tracer_provider)
    register_handlers(
        broker, naming=naming, sessions=sessions, planner=planner, dispatcher=dispatcher
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await listener.start()  # before the handlers plan from the cache
        try:
            async with connected(
                app,
                engine=engine,
                broker=broker,
                naming=naming,
                tracer_provider=tracer_provider,
                run_relay=run_relay,
            ):
                if run_dispatcher:
                    await dispatcher.start()
                try:
                    yield
                finally:
                    await dispatcher.stop()
                    await listener.stop()  # before the engine is disposed
        finally:
            await listener.stop()  # (again, if connecting failed: a no-op otherwise)
            await http.aclose()

    app = create_service_app(
        settings,
        title="Tirek notification",
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
    app.state.channels = channels
    app.state.dispatcher = dispatcher
    app.state.planner = planner
    app.state.setup_listener = listener
    for router in (
        inbox_views.router,
        recipient_views.router,
        channel_views.router,
        rule_views.router,
        delivery_views.router,
        # The leaving NGO's export of its data, before tenant.offboarded erases it.
        tenant_export_router(TENANT_DATA),
    ):
        app.include_router(router)
    return app
