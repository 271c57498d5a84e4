"""Tenant use cases. Each runs inside the caller's unit of work and writes its event to the
outbox in the same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from admin.tenants.models import Tenant, TenantOffboarding, TenantStatus
from admin.tenants.schemas import TenantIn, TenantPatch
from tirek.events import Envelope
from tirek.events.admin import TenantOnboarded, TenantReactivated, TenantSuspended, TenantUpdated
from tirek.messaging.outbox import add_to_outbox
from tirek.web.problems import Conflict, NotFound, Unprocessable

#: Status changes by suspension and reactivation: (from, to) -> the event that announces it.
#: Reactivating a tenant being offboarded cancels the offboarding. Offboarding itself has its
#: own use cases (``admin.tenants.offboarding``).
_TRANSITIONS: dict[tuple[TenantStatus, TenantStatus], type[TenantSuspended | TenantReactivated]] = {
    (TenantStatus.ACTIVE, TenantStatus.SUSPENDED): TenantSuspended,
    (TenantStatus.SUSPENDED, TenantStatus.ACTIVE): TenantReactivated,
    (TenantStatus.OFFBOARDING, TenantStatus.ACTIVE): TenantReactivated,
}
#: Fields of a patch that may be cleared with an explicit null.
_CLEARABLE = frozenset({"contact_hours"})


async def onboard(*, session: AsyncSession, data: TenantIn, now: datetime) -> Tenant:
    """Create a tenant; publishes ``tenant.onboarded``. 409 when the code is taken."""
    if await session.scalar(select(Tenant.id).where(Tenant.code == data.code)) is not None:
        raise Conflict(f"A tenant with code {data.code} exists.", slug="tenant-code-taken")
    tenant = Tenant(
        id=uuid.uuid4(),
        code=data.code,
        country=data.country,
        region=data.region,
        kind=data.kind.value,
        names={str(language): name for language, name in data.names.items()},
        languages=[str(language) for language in data.languages],
        services_offered=[str(service) for service in data.services_offered],
        service_areas=list(data.service_areas),
        contact_hours=data.contact_hours,
        status=TenantStatus.ACTIVE.value,
        created_at=now,
        updated_at=now,
    )
    session.add(tenant)
    try:
        await session.flush()
    except IntegrityError:
        # Two onboardings of one code at once: the unique index decides.
        raise Conflict(
            f"A tenant with code {data.code} exists.", slug="tenant-code-taken"
        ) from None
    await add_to_outbox(
        session,
        Envelope.wrap(
            TenantOnboarded(
                tenant_id=tenant.id,
                code=tenant.code,
                country=tenant.country,
                region=tenant.region,
                kind=tenant.kind,
                names=tenant.names,
                languages=tenant.languages,
                services_offered=tenant.services_offered,
                service_areas=tenant.service_areas,
                contact_hours=tenant.contact_hours,
            ),
            tenant=tenant.id,
            subject=tenant.id,
            time=now,
        ),
    )
    return tenant


async def get(*, session: AsyncSession, tenant_id: uuid.UUID, lock: bool = False) -> Tenant:
    """The tenant, or 404."""
    statement = select(Tenant).where(Tenant.id == tenant_id)
    if lock:
        statement = statement.with_for_update()
    tenant = await session.scalar(statement)
    if tenant is None:
        raise NotFound("No such tenant.", slug="tenant-not-found")
    return tenant


async def list_tenants(
    *, session: AsyncSession, status: TenantStatus | None, limit: int, offset: int
) -> list[Tenant]:
    statement = select(Tenant)
    if status is not None:
        statement = statement.where(Tenant.status == status.value)
    statement = statement.order_by(Tenant.code).limit(limit).offset(offset)
    return list(await session.scalars(statement))


async def update(
    *, session: AsyncSession, tenant_id: uuid.UUID, data: TenantPatch, now: datetime
) -> Tenant:
    """Change a tenant's directory details; publishes ``tenant.updated`` with the new state
    (nothing when nothing changed)."""
    changes: dict[str, Any] = {}
    for name in data.model_fields_set:
        value = getattr(data, name)
        if value is None and name not in _CLEARABLE:
            raise Unprocessable(f"{name} cannot be null.", title="Field cannot be cleared")
        if isinstance(value, dict):
            value = {str(key): item for key, item in value.items()}
        elif isinstance(value, list):
            value = [str(item) for item in value]
        changes[name] = value
    tenant = await get(session=session, tenant_id=tenant_id, lock=True)
    if tenant.status == TenantStatus.OFFBOARDED:
        # Its copies were erased everywhere; an update would bring the NGO back.
        raise Conflict("The tenant is offboarded.", slug="tenant-status", status_now=tenant.status)
    changed = {name: value for name, value in changes.items() if getattr(tenant, name) != value}
    if not changed:
        return tenant
    for name, value in changed.items():
        setattr(tenant, name, value)
    tenant.updated_at = now
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(
            TenantUpdated(
                tenant_id=tenant.id,
                country=tenant.country,
                region=tenant.region,
                names=tenant.names,
                languages=tenant.languages,
                services_offered=tenant.services_offered,
                service_areas=tenant.service_areas,
                contact_hours=tenant.contact_hours,
            ),
            tenant=tenant.id,
            subject=tenant.id,
            time=now,
        ),
    )
    return tenant


async def change_status(
    *, session: AsyncSession, tenant_id: uuid.UUID, to: TenantStatus, actor: str, now: datetime
) -> Tenant:
    """Suspend or reactivate; publishes ``tenant.suspended`` / ``tenant.reactivated``.
    Reactivating a tenant being offboarded cancels the offboarding (by ``actor``).
    409 when the tenant is not in a state the change starts from."""
    tenant = await get(session=session, tenant_id=tenant_id, lock=True)
    previous = TenantStatus(tenant.status)
    event = _TRANSITIONS.get((previous, to))
    if event is None:
        raise Conflict(
            f"The tenant is {tenant.status}.", slug="tenant-status", status_now=tenant.status
        )
    tenant.status = to.value
    tenant.updated_at = now
    if previous is TenantStatus.OFFBOARDING:
        await session.execute(
            sql_update(TenantOffboarding)
            .where(
                TenantOffboarding.tenant == tenant.id,
                TenantOffboarding.confirmed_at.is_(None),
                TenantOffboarding.cancelled_at.is_(None),
            )
            .values(cancelled_by=actor, cancelled_at=now)
        )
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(event(tenant_id=tenant.id), tenant=tenant.id, subject=tenant.id, time=now),
    )
    return tenant
