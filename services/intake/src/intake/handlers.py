"""Intake's event handlers: turn an event into a call of a domain's service, idempotently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.partners.handlers import apply_agreement_event
from intake.privacy.handlers import on_person_erased
from intake.shares.handlers import ReferralSaga
from intake.tenants.directory import DIRECTORY
from intake.tenants.handlers import apply_tenant_event
from intake.tenants.offboarding import TENANT_DATA
from tirek.crypto import Keyring
from tirek.db import UnitOfWork
from tirek.db.erasure import erase_tenant
from tirek.events import Envelope
from tirek.events.admin import (
    AgreementGranted,
    AgreementRevoked,
    TenantOffboarded,
    TenantOnboarded,
    TenantReactivated,
    TenantSuspended,
)
from tirek.messaging.broker import subscriber
from tirek.messaging.inbox import first_delivery
from tirek.messaging.naming import Naming
from tirek.messaging.streams import (
    INTAKE_AGREEMENTS,
    INTAKE_PERSONS,
    INTAKE_REFERRALS,
    INTAKE_TENANTS,
)


def register_handlers(
    broker: NatsBroker,
    *,
    naming: Naming,
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    clock: Callable[[], datetime],
) -> None:
    saga = ReferralSaga(sessions=sessions, keyring=keyring, clock=clock)

    @subscriber(broker, naming, INTAKE_REFERRALS)
    async def on_referral_event(envelope: Envelope) -> None:
        # Share packages on referral.approved, linked cases on referral.accepted.
        await saga.handle(envelope)

    @subscriber(broker, naming, INTAKE_AGREEMENTS)
    async def on_agreement_event(envelope: Envelope) -> None:
        payload = envelope.payload()
        if not isinstance(payload, AgreementGranted | AgreementRevoked):
            return
        # Agreements are no one tenant's data: no tenant is set.
        async with UnitOfWork(sessions, None) as session:
            if await first_delivery(session, consumer=INTAKE_AGREEMENTS.name, event_id=envelope.id):
                await apply_agreement_event(session, payload, at=envelope.time)

    @subscriber(broker, naming, INTAKE_PERSONS)
    async def on_person_event(envelope: Envelope) -> None:
        # A person erased by a sender: clear the copies in receivers' linked cases.
        await on_person_erased(envelope, sessions=sessions, keyring=keyring)

    @subscriber(broker, naming, INTAKE_TENANTS)
    async def on_tenant_event(envelope: Envelope) -> None:
        payload = envelope.payload()
        if isinstance(payload, TenantOffboarded):
            # Under the leaving NGO's row-level security, with the inbox row: once.
            async with UnitOfWork(sessions, payload.tenant_id) as session:
                if await first_delivery(
                    session, consumer=INTAKE_TENANTS.name, event_id=envelope.id
                ):
                    # Its data keys go too: whatever ciphertext of it remains (backups)
                    # is unreadable from now on.
                    await erase_tenant(session, payload.tenant_id, TENANT_DATA)
            keyring.forget(payload.tenant_id)
            DIRECTORY.forget(payload.tenant_id)
            return
        if not isinstance(payload, TenantOnboarded | TenantSuspended | TenantReactivated):
            return
        # The tenant directory has no row-level security: no tenant is set.
        async with UnitOfWork(sessions, None) as session:
            if await first_delivery(session, consumer=INTAKE_TENANTS.name, event_id=envelope.id):
                await apply_tenant_event(session, payload)
        # Committed: the next registration of this NGO reads its new state.
        DIRECTORY.forget(payload.tenant_id)
        if isinstance(payload, TenantOnboarded):
            # The NGO's data keys exist before its first request (created once; idempotent).
            await keyring.keys(payload.tenant_id)
