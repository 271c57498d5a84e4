"""HTTP for a tenant's users: ``/v1/tenants/{tenant_id}/users``, carried out in the identity
provider. Platform administrators manage every tenant's users; a tenant administrator its own."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from admin.deps import AdminWork, TenantReader
from admin.identity.provider import IdentityUser, NewUser
from admin.identity.schemas import RolesIn, UserIn, UserOut
from admin.identity.service import Identity, identity_answers, organization_of
from admin.tenants import service as tenants
from admin.tenants.models import Tenant, TenantStatus
from tirek.auth import Principal, Role
from tirek.web.problems import Conflict, NotFound

router = APIRouter(prefix="/v1/tenants/{tenant_id}/users", tags=["users"])


async def _tenant(work: AdminWork, principal: Principal, tenant_id: uuid.UUID) -> Tenant:
    # A tenant administrator manages its own NGO's users only; another tenant is "not found".
    if not principal.has_any(Role.PLATFORM_ADMIN) and principal.tenant_id != tenant_id:
        raise NotFound("No such tenant.", slug="tenant-not-found")
    async with work() as session:
        return await tenants.get(session=session, tenant_id=tenant_id)


def _out(user: IdentityUser) -> UserOut:
    return UserOut.model_validate(user)


@router.get("", response_model=list[UserOut])
async def list_users(
    tenant_id: uuid.UUID, principal: TenantReader, work: AdminWork, identity: Identity
) -> list[UserOut]:
    tenant = await _tenant(work, principal, tenant_id)
    async with identity_answers():
        return [_out(user) for user in await identity.list_users(organization_of(tenant))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def create_user(
    tenant_id: uuid.UUID,
    data: UserIn,
    principal: TenantReader,
    work: AdminWork,
    identity: Identity,
) -> UserOut:
    """Create (invite) a user of the tenant with roles, in the identity provider."""
    tenant = await _tenant(work, principal, tenant_id)
    if tenant.status != TenantStatus.ACTIVE:
        raise Conflict("The tenant is suspended.", slug="tenant-status", status_now=tenant.status)
    new = NewUser(
        username=data.username,
        email=data.email,
        first_name=data.first_name,
        last_name=data.last_name,
        roles=tuple(role.value for role in data.roles),
        locale=data.locale.value,
        password=data.initial_password,
    )
    async with identity_answers():
        return _out(await identity.create_user(organization_of(tenant), new))


@router.put("/{user_id}/roles", response_model=UserOut)
async def assign_roles(
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    data: RolesIn,
    principal: TenantReader,
    work: AdminWork,
    identity: Identity,
) -> UserOut:
    """Make ``roles`` exactly the user's Tirek roles."""
    tenant = await _tenant(work, principal, tenant_id)
    roles = tuple(dict.fromkeys(role.value for role in data.roles))
    async with identity_answers():
        return _out(await identity.assign_roles(organization_of(tenant), str(user_id), roles))


@router.post("/{user_id}/deactivate", response_model=UserOut)
async def deactivate_user(
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    principal: TenantReader,
    work: AdminWork,
    identity: Identity,
) -> UserOut:
    """Disable the user: no new tokens."""
    tenant = await _tenant(work, principal, tenant_id)
    async with identity_answers():
        return _out(await identity.deactivate(organization_of(tenant), str(user_id)))
