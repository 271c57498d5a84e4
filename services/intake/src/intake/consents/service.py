from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.cases import service as cases
from intake.consents.models import Consent
from intake.consents.schemas import ConsentIn, ConsentWithdrawal
from intake.privacy.reveal import reveal
from intake.shares import service as shares
from tirek.auth import Principal
from tirek.crypto import Keyring, seal_record
from tirek.events import Envelope
from tirek.events.intake import ConsentGiven, ConsentPurpose, ConsentWithdrawn
from tirek.messaging.outbox import add_to_outbox
from tirek.web.problems import Conflict, NotFound


async def give(
    *,
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    data: ConsentIn,
    keyring: Keyring,
) -> Consent:
    """Record a consent on a case; publishes ``consent.given`` (field names, never values)."""
    case = await cases.get(session=session, case_id=case_id)
    consent = Consent(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        case_id=case.id,
        purpose=data.purpose.value,
        scope=[f.value for f in data.scope],
        recipient_tenant=data.recipient_tenant,
        given_by=data.given_by.value,
        guardian_name=data.guardian_name,
        method=data.method.value,
        given_at=data.given_at,
        valid_until=data.valid_until,
        recorded_by=principal.user_id,
    )
    seal_record(consent, await keyring.keys(principal.tenant_id))
    session.add(consent)
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(
            ConsentGiven(
                consent_id=consent.id,
                case_id=case.id,
                purpose=data.purpose,
                scope=consent.scope,
                recipient_tenant=data.recipient_tenant,
                given_by=data.given_by,
                method=data.method,
                given_at=data.given_at,
                valid_until=data.valid_until,
            ),
            tenant=principal.tenant_id,
            subject=case.id,
        ),
    )
    return consent


async def get(*, session: AsyncSession, case_id: uuid.UUID, consent_id: uuid.UUID) -> Consent:
    consent = await session.scalar(
        select(Consent)
        .where(Consent.id == consent_id, Consent.case_id == case_id)
        .with_for_update()
    )
    if consent is None:
        raise NotFound(title="Consent not found", detail="No such consent on this case.")
    return consent


async def withdraw(
    *,
    session: AsyncSession,
    case_id: uuid.UUID,
    consent_id: uuid.UUID,
    data: ConsentWithdrawal,
    now: datetime,
    keyring: Keyring,
) -> Consent:
    """Withdraw a consent; ``consent.withdrawn`` tells every NGO that received data under it."""
    consent = await get(session=session, case_id=case_id, consent_id=consent_id)
    if consent.withdrawn_at is not None:
        raise Conflict(title="Already withdrawn", detail="This consent was already withdrawn.")
    await reveal(keyring, [consent])
    consent.withdrawn_at = now
    consent.withdrawal_reason = data.reason
    seal_record(consent, await keyring.keys(consent.tenant_id))
    await session.flush()
    # The sealed copies intake kept of packages shared under it go with it.
    await shares.forget_packages_of_consent(session=session, consent_id=consent.id)
    await add_to_outbox(
        session,
        Envelope.wrap(
            ConsentWithdrawn(
                consent_id=consent.id,
                case_id=case_id,
                purpose=ConsentPurpose(consent.purpose),
                recipient_tenant=consent.recipient_tenant,
                withdrawn_at=now,
            ),
            tenant=consent.tenant_id,
            subject=case_id,
        ),
    )
    return consent


async def list_for_case(
    *, session: AsyncSession, case_id: uuid.UUID, keyring: Keyring
) -> list[Consent]:
    """The case's consents, opened for reading."""
    await cases.get(session=session, case_id=case_id)
    consents = await of_cases(session=session, case_ids=[case_id])
    await reveal(keyring, consents)
    return consents


async def of_cases(*, session: AsyncSession, case_ids: list[uuid.UUID]) -> list[Consent]:
    """The consents of ``case_ids`` (still sealed)."""
    rows = await session.scalars(
        select(Consent).where(Consent.case_id.in_(case_ids)).order_by(Consent.given_at)
    )
    return list(rows)
