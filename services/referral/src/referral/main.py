"""Referral's application: wiring only — lifespan, routers, event handlers, deadline scanner."""

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

from referral import privacy
from referral.deadlines.service import scan_deadlines
from referral.directory import views as directory_views
from referral.flows import announce_overdue
from referral.handlers import register_handlers
from referral.messages import views as message_views
from referral.models import Base
from referral.offboarding import TENANT_DATA
from referral.referrals import views as referral_views
from referral.returns import views as return_views
from referral.settings import ReferralSettings, get_settings
from tirek.crypto import Keyring, key_provider_for
from tirek.db import create_engine, session_factory
from tirek.messaging.broker import create_broker
from tirek.messaging.naming import Naming
from tirek.web import create_service_app
from tirek.web.runtime import connected
from tirek.web.tenant_export import tenant_export_router

Clock = Callable[[], datetime]

_log = logging.getLogger("referral")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: ReferralSettings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    clock: Clock = _utc_now,
    run_relay: bool = True,
    run_scanner: bool = True,
) -> FastAPI:
    """Build referral. ``clock`` is injectable for tests; ``run_relay=False`` and
    ``run_scanner=False`` leave publishing and deadline scans to a test
    (``await app.state.scan_deadlines(now)``)."""
    settings = settings or get_settings()
    naming = Naming(settings.namespace)
    engine = create_engine(
        settings.db_url, pool_size=settings.db_pool_size, application_name="referral"
    )
    sessions = session_factory(engine)
    broker: NatsBroker = create_broker(settings, tracer_provider=tracer_provider)
    keys = key_provider_for(settings)
    keyring = Keyring(keys, sessions, refresh_seconds=settings.key_refresh_seconds)
    register_handlers(
        broker, naming=naming, sessions=sessions, settings=settings, clock=clock, keyring=keyring
    )

    async def scan(now: datetime) -> int:
        """Announce every deadline that became overdue by ``now``; returns how many."""
        return await scan_deadlines(sessions, now, announce=announce_overdue)

    async def scanner() -> None:
        # Persisted due dates drive this loop: a restart loses nothing, and each period is
        # announced once whatever the number of scanners (see referral.deadlines.service).
        while True:
            try:
                await scan(clock())
            except Exception:  # a database hiccup must not end the scanner
                _log.exception("deadline scan failed")
            await asyncio.sleep(settings.deadline_scan_interval)

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
            tasks = [
                asyncio.create_task(
                    privacy.STORE.seal_plaintext_at_start(sessions, keyring), name="seal-plaintext"
                )
            ]
            if run_scanner:
                tasks.append(asyncio.create_task(scanner(), name="deadline-scanner"))
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app = create_service_app(
        settings,
        title="Tirek referral",
        version="0.1.0",
        lifespan=lifespan,
        tracer_provider=tracer_provider,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.engine = engine
    app.state.broker = broker
    app.state.naming = naming
    app.state.clock = clock
    app.state.keys = keys
    app.state.keyring = keyring
    app.state.scan_deadlines = scan
    for router in (
        referral_views.router,
        message_views.router,
        return_views.router,
        directory_views.router,
        # The leaving NGO's export of its data, before tenant.offboarded erases it.
        tenant_export_router(TENANT_DATA, sealed=Base),
    ):
        app.include_router(router)
    return app
