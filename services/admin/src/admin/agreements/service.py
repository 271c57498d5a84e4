"""Sharing-agreement use cases; each writes its event to the outbox in the same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from admin.agreements.models import AgreementStatus, SharingAgreement
from admin.agreements.schemas import AgreementIn
from admin.tenants.models import Tenant
from tirek.auth import Principal
from tirek.events import Envelope
from tirek.events.admin import AgreementGranted, AgreementRevoked
from tirek.messaging.outbox import add_to_outbox
from tirek.web.problems import Conflict, NotFound, Unprocessable


async def grant(
    *, session: AsyncSession, principal: Principal, data: AgreementIn, now: datetime
) -> SharingAgreement:
    """Let ``from_tenant`` refer to ``to_tenant``; publishes ``agreement.granted``.
    422 for an unknown tenant, 409 when an active agreement in that direction exists."""
    known = set(
        await session.scalars(
            select(Tenant.id).where(Tenant.id.in_([data.from_tenant, data.to_tenant]))
        )
    )
    if known != {data.from_tenant, data.to_tenant}:
        raise Unprocessable("Both tenants must exist.", title="Unknown tenant")
    agreement = SharingAgreement(
        id=uuid.uuid4(),
        from_tenant=data.from_tenant,
        to_tenant=data.to_tenant,
        services=[str(service) for service in data.services],
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        status=AgreementStatus.ACTIVE.value,
        granted_by=principal.user_id,
        granted_at=now,
    )
    session.add(agreement)
    try:
        # The partial unique index is the one judge of "already agreed", even under races.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "An active agreement between these tenants in this direction exists; revoke it first.",
            slug="agreement-exists",
        ) from None
    await add_to_outbox(
        session,
        Envelope.wrap(
            AgreementGranted(
                agreement_id=agreement.id,
                from_tenant=agreement.from_tenant,
                to_tenant=agreement.to_tenant,
                services=agreement.services,
                valid_from=agreement.valid_from,
                valid_until=agreement.valid_until,
            ),
            tenant=agreement.from_tenant,
            subject=agreement.id,
            time=now,
        ),
    )
    return agreement


async def revoke(
    *,
    session: AsyncSession,
    principal: Principal,
    agreement_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> SharingAgreement:
    """Revoke an active agreement; publishes ``agreement.revoked``. 409 when already revoked."""
    agreement = await session.scalar(
        select(SharingAgreement).where(SharingAgreement.id == agreement_id).with_for_update()
    )
    if agreement is None:
        raise NotFound("No such agreement.", slug="agreement-not-found")
    if agreement.status != AgreementStatus.ACTIVE:
        raise Conflict("The agreement is already revoked.", slug="agreement-revoked")
    agreement.status = AgreementStatus.REVOKED.value
    agreement.revoked_by = principal.user_id
    agreement.revoked_at = now
    agreement.revoke_reason = reason
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(
            AgreementRevoked(agreement_id=agreement.id),
            tenant=agreement.from_tenant,
            subject=agreement.id,
            time=now,
        ),
    )
    return agreement


async def list_agreements(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID | None,
    status: AgreementStatus | None,
    limit: int,
    offset: int,
) -> list[SharingAgreement]:
    """Agreements, newest first; ``tenant_id`` keeps those it is a party to."""
    statement = select(SharingAgreement)
    if tenant_id is not None:
        statement = statement.where(
            or_(SharingAgreement.from_tenant == tenant_id, SharingAgreement.to_tenant == tenant_id)
        )
    if status is not None:
        statement = statement.where(SharingAgreement.status == status.value)
    statement = (
        statement.order_by(SharingAgreement.granted_at.desc(), SharingAgreement.id)
        .limit(limit)
        .offset(offset)
    )
    return list(await session.scalars(statement))
