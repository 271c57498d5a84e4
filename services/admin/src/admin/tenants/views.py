"""HTTP for tenants: ``/v1/tenants``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from admin.deps import AdminWork, Now, PlatformAdmin, TenantReader
from admin.identity.service import MaybeIdentity, identity_answers, organization_of
from admin.tenants import offboarding, service
from admin.tenants.models import Tenant, TenantOffboarding, TenantStatus
from admin.tenants.schemas import (
    OffboardingConfirmIn,
    OffboardingOut,
    OffboardingStartIn,
    TenantIn,
    TenantOut,
    TenantPatch,
)
from tirek.auth import Principal, Role
from tirek.web.params import Offset
from tirek.web.problems import NotFound

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])


def _may_read(principal: Principal, tenant_id: uuid.UUID) -> bool:
    # No row-level security on tenants (they are the platform's rows): a tenant administrator
    # sees its own tenant only, and that is decided here.
    return principal.has_any(Role.PLATFORM_ADMIN) or principal.tenant_id == tenant_id


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TenantOut)
async def onboard_tenant(
    data: TenantIn, principal: PlatformAdmin, work: AdminWork, now: Now
) -> TenantOut:
    """Onboard an NGO. Publishes ``tenant.onboarded``; 409 when the code is taken."""
    async with work() as session:
        return TenantOut.model_validate(await service.onboard(session=session, data=data, now=now))


@router.get("", response_model=list[TenantOut])
async def list_tenants(
    principal: TenantReader,
    work: AdminWork,
    status: TenantStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    offset: Offset = 0,
) -> list[TenantOut]:
    """Every tenant for a platform administrator; a tenant administrator's own only."""
    async with work() as session:
        if not principal.has_any(Role.PLATFORM_ADMIN):
            try:
                own = await service.get(session=session, tenant_id=principal.tenant_id)
            except NotFound:
                return []
            matches = status is None or own.status == status.value
            return [TenantOut.model_validate(own)] if matches and offset == 0 else []
        tenants = await service.list_tenants(
            session=session, status=status, limit=limit, offset=offset
        )
        return [TenantOut.model_validate(t) for t in tenants]


@router.get("/{tenant_id}", response_model=TenantOut)
async def get_tenant(tenant_id: uuid.UUID, principal: TenantReader, work: AdminWork) -> TenantOut:
    if not _may_read(principal, tenant_id):
        # 404, not 403: another NGO's tenant id reveals nothing.
        raise NotFound("No such tenant.", slug="tenant-not-found")
    async with work() as session:
        return TenantOut.model_validate(await service.get(session=session, tenant_id=tenant_id))


@router.patch("/{tenant_id}", response_model=TenantOut)
async def update_tenant(
    tenant_id: uuid.UUID, data: TenantPatch, principal: PlatformAdmin, work: AdminWork, now: Now
) -> TenantOut:
    """Change names, country, region, languages, services, areas or hours. Publishes
    ``tenant.updated`` when something changed."""
    async with work() as session:
        return TenantOut.model_validate(
            await service.update(session=session, tenant_id=tenant_id, data=data, now=now)
        )


@router.post("/{tenant_id}/suspend", response_model=TenantOut)
async def suspend_tenant(
    tenant_id: uuid.UUID,
    principal: PlatformAdmin,
    work: AdminWork,
    now: Now,
    identity: MaybeIdentity,
) -> TenantOut:
    """Suspend an active tenant (its data is kept). Publishes ``tenant.suspended``, on which
    every service refuses the tenant's tokens; its organization in the identity provider is
    disabled, so new tokens name no tenant either."""
    return await _change_status(work, now, identity, principal, tenant_id, TenantStatus.SUSPENDED)


@router.post("/{tenant_id}/reactivate", response_model=TenantOut)
async def reactivate_tenant(
    tenant_id: uuid.UUID,
    principal: PlatformAdmin,
    work: AdminWork,
    now: Now,
    identity: MaybeIdentity,
) -> TenantOut:
    """Reactivate a suspended tenant, or cancel an offboarding not yet confirmed. Publishes
    ``tenant.reactivated``; enables its organization in the identity provider again."""
    return await _change_status(work, now, identity, principal, tenant_id, TenantStatus.ACTIVE)


async def _change_status(
    work: AdminWork,
    now: Now,
    identity: MaybeIdentity,
    principal: Principal,
    tenant_id: uuid.UUID,
    to: TenantStatus,
) -> TenantOut:
    async with work() as session:
        tenant = await service.change_status(
            session=session, tenant_id=tenant_id, to=to, actor=principal.user_id, now=now
        )
        if identity is not None:
            # Before the commit: a provider that fails rolls the change back (503) and a retry
            # converges (enabling or disabling twice is harmless). Should the commit fail after
            # the provider changed, the retry also puts both right.
            async with identity_answers():
                await identity.set_enabled(
                    organization_of(tenant), enabled=to is TenantStatus.ACTIVE
                )
        return TenantOut.model_validate(tenant)


def _offboarding_out(tenant: Tenant, record: TenantOffboarding) -> OffboardingOut:
    fields = {
        name: getattr(record, name)
        for name in OffboardingOut.model_fields
        if name not in ("tenant_id", "tenant_status")
    }
    return OffboardingOut.model_validate(
        {**fields, "tenant_id": record.tenant, "tenant_status": tenant.status}
    )


@router.post("/{tenant_id}/offboarding", response_model=OffboardingOut)
async def start_offboarding(
    tenant_id: uuid.UUID,
    data: OffboardingStartIn,
    principal: PlatformAdmin,
    work: AdminWork,
    now: Now,
    identity: MaybeIdentity,
) -> OffboardingOut:
    """Begin offboarding an NGO (active or suspended). Publishes
    ``tenant.offboarding_started``: its users may no longer act, and its tenant
    administrators download each service's export of its data (``GET /v1/tenant-export``
    on each service) until the offboarding is confirmed. Its organization in the identity
    provider is enabled, so that they can log in to do so. Reactivating cancels."""
    async with work() as session:
        tenant, record = await offboarding.start(
            session=session, principal=principal, tenant_id=tenant_id, reason=data.reason, now=now
        )
        if identity is not None:
            async with identity_answers():
                await identity.set_enabled(organization_of(tenant), enabled=True)
        return _offboarding_out(tenant, record)


@router.get("/{tenant_id}/offboarding", response_model=OffboardingOut)
async def get_offboarding(
    tenant_id: uuid.UUID, principal: PlatformAdmin, work: AdminWork
) -> OffboardingOut:
    """The tenant's latest offboarding: who started, confirmed or cancelled it, when, why."""
    async with work() as session:
        tenant = await service.get(session=session, tenant_id=tenant_id)
        record = await offboarding.latest(session=session, tenant_id=tenant_id)
        return _offboarding_out(tenant, record)


@router.post("/{tenant_id}/offboarding/confirm", response_model=OffboardingOut)
async def confirm_offboarding(
    tenant_id: uuid.UUID,
    data: OffboardingConfirmIn,
    principal: PlatformAdmin,
    work: AdminWork,
    now: Now,
    identity: MaybeIdentity,
) -> OffboardingOut:
    """Confirm an open offboarding, naming the tenant's code: the NGO's organization and
    users are deleted from the identity provider, its sharing agreements revoked, and
    ``tenant.offboarded`` published, on which every service erases its rows. Irreversible."""
    async with work() as session:
        tenant, record = await offboarding.confirm(
            session=session,
            principal=principal,
            tenant_id=tenant_id,
            code=data.confirm_code,
            reason=data.reason,
            now=now,
        )
        if identity is not None:
            # Before the commit: should the provider fail, nothing is confirmed (503); should
            # the commit fail after it, a retry finds no users left and confirms.
            async with identity_answers():
                record.users_removed = await identity.remove(organization_of(tenant))
        return _offboarding_out(tenant, record)
