"""Offboarding: an NGO leaves the consortium, in two explicit, audited steps.

1. :func:`start` (a platform administrator, with a reason): the tenant is ``offboarding`` and
   ``tenant.offboarding_started`` is published. Every service then refuses the NGO's users as
   if it were suspended, except that its tenant administrators may download, from each
   service, that service's export of the NGO's data (``GET /v1/tenant-export``,
   :mod:`tirek.web.tenant_export`). The export is the NGO's: answered only to its own
   administrators under its own row-level security, never to a platform administrator (case
   content is personal data), never passing through admin.
2. :func:`confirm` (a second call, naming the tenant's code): the tenant is ``offboarded``,
   its active sharing agreements are revoked, ``tenant.offboarded`` is published, and every
   service erases the NGO's rows (:mod:`tirek.db.erasure`). Reporting keeps its
   de-identified counts under a neutral label, so last year's donor report stays as it was.

Reactivating an ``offboarding`` tenant cancels the offboarding. Admin keeps the tenant row,
its agreements (revoked) and this audit: the platform's own record that the NGO was a member
and left, with no case content in it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from admin.agreements.models import AgreementStatus, SharingAgreement
from admin.tenants.models import Tenant, TenantOffboarding, TenantStatus
from admin.tenants.service import get
from tirek.auth import Principal
from tirek.events import Envelope
from tirek.events.admin import TenantOffboarded, TenantOffboardingStarted
from tirek.messaging.outbox import add_to_outbox
from tirek.web.problems import Conflict, NotFound, Unprocessable

#: The reason recorded on agreements revoked by an offboarding.
REVOKED_BY_OFFBOARDING = "tenant offboarded"
_STARTS_FROM = frozenset({TenantStatus.ACTIVE, TenantStatus.SUSPENDED})


async def open_offboarding(session: AsyncSession, tenant_id: uuid.UUID) -> TenantOffboarding | None:
    """The tenant's offboarding in progress, if any."""
    found: TenantOffboarding | None = await session.scalar(
        select(TenantOffboarding)
        .where(
            TenantOffboarding.tenant == tenant_id,
            TenantOffboarding.confirmed_at.is_(None),
            TenantOffboarding.cancelled_at.is_(None),
        )
        .with_for_update()
    )
    return found


async def latest(*, session: AsyncSession, tenant_id: uuid.UUID) -> TenantOffboarding:
    """The tenant's latest offboarding (open, confirmed or cancelled), or 404."""
    found = await session.scalar(
        select(TenantOffboarding)
        .where(TenantOffboarding.tenant == tenant_id)
        .order_by(TenantOffboarding.started_at.desc())
        .limit(1)
    )
    if found is None:
        raise NotFound("The tenant was never offboarded.", slug="offboarding-not-found")
    return found


async def start(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> tuple[Tenant, TenantOffboarding]:
    """Begin offboarding an active or suspended tenant; publishes
    ``tenant.offboarding_started``. 409 from any other state."""
    tenant = await get(session=session, tenant_id=tenant_id, lock=True)
    if TenantStatus(tenant.status) not in _STARTS_FROM:
        raise Conflict(
            f"The tenant is {tenant.status}.", slug="tenant-status", status_now=tenant.status
        )
    tenant.status = TenantStatus.OFFBOARDING.value
    tenant.updated_at = now
    record = TenantOffboarding(
        id=uuid.uuid4(),
        tenant=tenant.id,
        started_by=principal.user_id,
        started_at=now,
        start_reason=reason,
    )
    session.add(record)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("An offboarding is already open.", slug="offboarding-open") from None
    await add_to_outbox(
        session,
        Envelope.wrap(
            TenantOffboardingStarted(tenant_id=tenant.id),
            tenant=tenant.id,
            subject=tenant.id,
            time=now,
        ),
    )
    return tenant, record


async def confirm(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: uuid.UUID,
    code: str,
    reason: str,
    now: datetime,
) -> tuple[Tenant, TenantOffboarding]:
    """Finish an offboarding: the tenant is ``offboarded``, its active agreements revoked,
    ``tenant.offboarded`` published. 422 when ``code`` is not the tenant's code (the caller
    must name what it erases); 409 when no offboarding is open."""
    tenant = await get(session=session, tenant_id=tenant_id, lock=True)
    if code != tenant.code:
        raise Unprocessable(
            "confirm_code must be the tenant's code.", title="Confirmation does not match"
        )
    record = await open_offboarding(session, tenant.id)
    if TenantStatus(tenant.status) is not TenantStatus.OFFBOARDING or record is None:
        raise Conflict(
            f"The tenant is {tenant.status}: start its offboarding first.",
            slug="tenant-status",
            status_now=tenant.status,
        )
    revoked = await session.execute(
        update(SharingAgreement)
        .where(
            SharingAgreement.status == AgreementStatus.ACTIVE.value,
            or_(SharingAgreement.from_tenant == tenant.id, SharingAgreement.to_tenant == tenant.id),
        )
        .values(
            status=AgreementStatus.REVOKED.value,
            revoked_by=principal.user_id,
            revoked_at=now,
            revoke_reason=REVOKED_BY_OFFBOARDING,
        )
    )
    tenant.status = TenantStatus.OFFBOARDED.value
    tenant.updated_at = now
    record.confirmed_by = principal.user_id
    record.confirmed_at = now
    record.confirm_reason = reason
    record.agreements_revoked = int(getattr(revoked, "rowcount", 0) or 0)
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(
            TenantOffboarded(tenant_id=tenant.id), tenant=tenant.id, subject=tenant.id, time=now
        ),
    )
    return tenant, record
