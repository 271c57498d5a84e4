"""HTTP for tenants: ``/v1/tenants``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from admin.deps import AdminWork, Now, PlatformAdmin, TenantReader
from admin.tenants import service
from admin.tenants.models import TenantStatus
from admin.tenants.schemas import TenantIn, TenantOut, TenantPatch
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
    tenant_id: uuid.UUID, principal: PlatformAdmin, work: AdminWork, now: Now
) -> TenantOut:
    """Suspend an active tenant (its data is kept). Publishes ``tenant.suspended``."""
    async with work() as session:
        return TenantOut.model_validate(
            await service.change_status(
                session=session, tenant_id=tenant_id, to=TenantStatus.SUSPENDED, now=now
            )
        )


@router.post("/{tenant_id}/reactivate", response_model=TenantOut)
async def reactivate_tenant(
    tenant_id: uuid.UUID, principal: PlatformAdmin, work: AdminWork, now: Now
) -> TenantOut:
    """Reactivate a suspended tenant. Publishes ``tenant.reactivated``."""
    async with work() as session:
        return TenantOut.model_validate(
            await service.change_status(
                session=session, tenant_id=tenant_id, to=TenantStatus.ACTIVE, now=now
            )
        )
