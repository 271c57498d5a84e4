"""Referral's event handlers: turn an event into a call of a domain's service, idempotently.

Each handler records the event in the inbox in the same transaction as its effect. The
events intake publishes name a referral or a consent, not the tenant to act as: the handler
looks the referral's parties up (``referral_parties``, ids only) and scopes the transaction to the
sending NGO, which always sees its referrals. An event from intake in the name of another NGO
than the referral's sender (or a package sealed for another receiver) is forged: it raises
:class:`~tirek.events.ForgedTenant`, so it is dead-lettered with that reason and applied nowhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from faststream.nats import NatsBroker
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referral.directory.service import apply_admin_event
from referral.offboarding import TENANT_DATA
from referral.privacy import purge_for_erased_person
from referral.referrals import service as referrals
from referral.referrals.models import ReferralParties
from referral.settings import ReferralSettings
from tirek.crypto import Keyring
from tirek.db import UnitOfWork, set_tenant
from tirek.db.erasure import erase_tenant
from tirek.events import Envelope, ForgedTenant
from tirek.events.admin import (
    AgreementGranted,
    AgreementRevoked,
    TenantOffboarded,
    TenantOnboarded,
    TenantReactivated,
    TenantSuspended,
)
from tirek.events.intake import ConsentWithdrawn, PersonErased, SharePrepared, ShareRefused
from tirek.messaging.broker import subscriber
from tirek.messaging.inbox import first_delivery
from tirek.messaging.naming import Naming
from tirek.messaging.streams import (
    REFERRAL_ADMIN,
    REFERRAL_CONSENTS,
    REFERRAL_PERSONS,
    REFERRAL_SHARES,
)


def register_handlers(
    broker: NatsBroker,
    *,
    naming: Naming,
    sessions: async_sessionmaker[AsyncSession],
    settings: ReferralSettings,
    clock: Callable[[], datetime],
    keyring: Keyring,
) -> None:
    answer_within = timedelta(hours=settings.answer_within_hours)
    urgent_answer_within = timedelta(hours=settings.urgent_answer_within_hours)

    @subscriber(broker, naming, REFERRAL_SHARES)
    async def on_share_event(envelope: Envelope) -> None:
        payload = envelope.payload()
        if not isinstance(payload, SharePrepared | ShareRefused):
            return
        if isinstance(payload, SharePrepared):
            # The receiver's keys, before the transaction holds a connection.
            await keyring.keys(payload.receiver_tenant)
        async with UnitOfWork(sessions, None) as session:
            if not await first_delivery(
                session, consumer=REFERRAL_SHARES.name, event_id=envelope.id
            ):
                return
            parties = await session.get(ReferralParties, payload.referral_id)
            if parties is None:
                return  # not one of ours: nothing to attach it to
            if envelope.tenant != parties.sender_tenant:
                raise ForgedTenant(f"{envelope.type}: not in the name of the referral's sender")
            if (
                isinstance(payload, SharePrepared)
                and payload.receiver_tenant != parties.receiver_tenant
            ):
                raise ForgedTenant(f"{envelope.type}: sealed for another than the receiver")
            await set_tenant(session, parties.sender_tenant)
            if isinstance(payload, SharePrepared):
                await referrals.attach_package(
                    session=session,
                    payload=payload,
                    now=clock(),
                    answer_within=answer_within,
                    urgent_answer_within=urgent_answer_within,
                    keyring=keyring,
                )
            else:
                await referrals.block(session=session, payload=payload, now=clock())

    @subscriber(broker, naming, REFERRAL_CONSENTS)
    async def on_consent_event(envelope: Envelope) -> None:
        payload = envelope.payload()
        if not isinstance(payload, ConsentWithdrawn):
            return
        # Only the NGO that holds the consent can withdraw it: act as that NGO, so a
        # withdrawal in anyone else's name reaches none of the referrals.
        async with UnitOfWork(sessions, envelope.tenant) as session:
            if not await first_delivery(
                session, consumer=REFERRAL_CONSENTS.name, event_id=envelope.id
            ):
                return
            holders = set(
                await session.scalars(
                    select(ReferralParties.sender_tenant)
                    .where(ReferralParties.consent_id == payload.consent_id)
                    .distinct()
                )
            )
            if holders and envelope.tenant not in holders:
                raise ForgedTenant(f"{envelope.type}: the consent is another NGO's")
            known = await session.scalar(
                select(ReferralParties.referral_id)
                .where(
                    ReferralParties.consent_id == payload.consent_id,
                    ReferralParties.sender_tenant == envelope.tenant,
                )
                .limit(1)
            )
            if known is not None:
                await referrals.purge_packages(
                    session=session, consent_id=payload.consent_id, now=clock()
                )

    @subscriber(broker, naming, REFERRAL_PERSONS)
    async def on_person_event(envelope: Envelope) -> None:
        payload = envelope.payload()
        if not isinstance(payload, PersonErased) or not payload.shares:
            return
        await keyring.keys(envelope.tenant)
        # Only an NGO that is a party to a referral purges it: act as the erasing NGO.
        async with UnitOfWork(sessions, envelope.tenant) as session:
            if await first_delivery(session, consumer=REFERRAL_PERSONS.name, event_id=envelope.id):
                await purge_for_erased_person(
                    session=session,
                    keyring=keyring,
                    tenant=envelope.tenant,
                    erased=payload,
                    now=clock(),
                )

    @subscriber(broker, naming, REFERRAL_ADMIN)
    async def on_admin_event(envelope: Envelope) -> None:
        payload = envelope.payload()
        if isinstance(payload, TenantOffboarded):
            # Under the leaving NGO's row-level security, with the inbox row: once.
            async with UnitOfWork(sessions, payload.tenant_id) as session:
                if await first_delivery(
                    session, consumer=REFERRAL_ADMIN.name, event_id=envelope.id
                ):
                    await erase_tenant(session, payload.tenant_id, TENANT_DATA)
            keyring.forget(payload.tenant_id)  # its data keys went with its rows
            return
        if not isinstance(
            payload,
            TenantOnboarded
            | TenantSuspended
            | TenantReactivated
            | AgreementGranted
            | AgreementRevoked,
        ):
            return
        # The directory and the agreements are no one tenant's data: no tenant is set.
        async with UnitOfWork(sessions, None) as session:
            if await first_delivery(session, consumer=REFERRAL_ADMIN.name, event_id=envelope.id):
                await apply_admin_event(session, payload, at=envelope.time)
        if isinstance(payload, TenantOnboarded):
            # The NGO's data keys exist before its first request (created once; idempotent).
            await keyring.keys(payload.tenant_id)
