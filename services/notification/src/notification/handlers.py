"""Notification's event handlers: tenant directory updates, and planning deliveries.

Referral and case events are fetched up to :data:`BATCH_SIZE` at a time and handled
concurrently: each is planned on its own (:meth:`Planner.decide`, from what planning keeps in
memory), and the deliveries of those handled together are recorded in one transaction
(:class:`~notification.deliveries.group_commit.GroupCommit`), each event acked only once its
own deliveries and inbox marks have committed.
"""

from __future__ import annotations

from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.deliveries.dispatcher import Dispatcher
from notification.deliveries.group_commit import GroupCommit
from notification.deliveries.planning import Planner
from notification.rules.cache import COORDINATION, NAMES, tenant_key
from notification.tenants.offboarding import TENANT_DATA
from notification.tenants.service import apply_tenant_event
from tirek.db import UnitOfWork
from tirek.db.erasure import erase_tenant
from tirek.events import Envelope
from tirek.events.admin import (
    TenantOffboarded,
    TenantOnboarded,
    TenantReactivated,
    TenantSuspended,
)
from tirek.messaging.broker import subscriber
from tirek.messaging.inbox import first_delivery
from tirek.messaging.naming import Naming
from tirek.messaging.streams import (
    NOTIFICATION_ADMIN,
    NOTIFICATION_CASES,
    NOTIFICATION_REFERRALS,
)

#: Referral and case events fetched and handled at a time (their deliveries commit together).
BATCH_SIZE = 64


def register_handlers(
    broker: NatsBroker,
    *,
    naming: Naming,
    sessions: async_sessionmaker[AsyncSession],
    planner: Planner,
    dispatcher: Dispatcher,
) -> None:
    @subscriber(broker, naming, NOTIFICATION_ADMIN)
    async def on_admin_event(envelope: Envelope) -> None:
        payload = envelope.payload()
        if isinstance(payload, TenantOffboarded):
            # Under the leaving NGO's row-level security, with the inbox row: once.
            async with UnitOfWork(sessions, payload.tenant_id) as session:
                if await first_delivery(
                    session, consumer=NOTIFICATION_ADMIN.name, event_id=envelope.id
                ):
                    await erase_tenant(session, payload.tenant_id, TENANT_DATA)
                    planner.cache.invalidate_on_commit(
                        session, tenant_key(payload.tenant_id), COORDINATION, NAMES
                    )
            return
        if not isinstance(payload, TenantOnboarded | TenantSuspended | TenantReactivated):
            return
        async with UnitOfWork(sessions, None) as session:
            if await first_delivery(
                session, consumer=NOTIFICATION_ADMIN.name, event_id=envelope.id
            ):
                await apply_tenant_event(session, payload)
                # A coordination tenant onboarded, suspended or back, an NGO's names:
                # planning sees them now.
                planner.cache.invalidate_on_commit(session, COORDINATION, NAMES)

    referrals = GroupCommit(sessions, NOTIFICATION_REFERRALS.name)
    cases = GroupCommit(sessions, NOTIFICATION_CASES.name)

    async def plan(envelope: Envelope, consumer: str, group: GroupCommit) -> None:
        envelope.payload()  # an event that fails its contract is dead-lettered, not guessed at
        decided = await planner.decide(envelope, consumer=consumer)
        if decided is not None and await group.record(decided):
            dispatcher.wake()

    @subscriber(broker, naming, NOTIFICATION_REFERRALS, batch_size=BATCH_SIZE)
    async def on_referral_event(envelope: Envelope) -> None:
        await plan(envelope, NOTIFICATION_REFERRALS.name, referrals)

    @subscriber(broker, naming, NOTIFICATION_CASES, batch_size=BATCH_SIZE)
    async def on_case_event(envelope: Envelope) -> None:
        await plan(envelope, NOTIFICATION_CASES.name, cases)
