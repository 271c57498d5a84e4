"""Intake's event handlers: turn an event into a call of a domain's service, idempotently."""

from __future__ import annotations

from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.tenants.handlers import apply_tenant_event
from tirek.db import UnitOfWork
from tirek.events import Envelope
from tirek.events.admin import TenantOnboarded, TenantReactivated, TenantSuspended
from tirek.messaging.broker import subscriber
from tirek.messaging.inbox import first_delivery
from tirek.messaging.naming import Naming
from tirek.messaging.streams import INTAKE_TENANTS


def register_handlers(
    broker: NatsBroker, *, naming: Naming, sessions: async_sessionmaker[AsyncSession]
) -> None:
    @subscriber(broker, naming, INTAKE_TENANTS)
    async def on_tenant_event(envelope: Envelope) -> None:
        payload = envelope.payload()
        if not isinstance(payload, TenantOnboarded | TenantSuspended | TenantReactivated):
            return
        # The tenant directory has no row-level security: no tenant is set.
        async with UnitOfWork(sessions, None) as session:
            if await first_delivery(session, consumer=INTAKE_TENANTS.name, event_id=envelope.id):
                await apply_tenant_event(session, payload)
