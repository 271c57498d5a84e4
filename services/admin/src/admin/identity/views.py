"""HTTP for a tenant's users: ``/v1/tenants/{tenant_id}/users``, carried out in the identity
provider. Platform administrators manage every tenant's users; a tenant administrator its own."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from admin.deps import AdminWork, TenantReader
from admin.identity.provider import (
    IdentityError,
    IdentityProvider,
    IdentityUser,
    NewUser,
    Organization,
    UnknownUser,
    UserExists,
)
from admin.identity.schemas import RolesIn, UserIn, UserOut
from admin.tenants import service as tenants
from admin.tenants.models import Tenant, TenantStatus
from tirek.auth import Principal, Role
from tirek.web.problems import Conflict, NotFound, ServiceUnavailable

_log = logging.getLogger("admin.identity")

router = APIRouter(prefix="/v1/tenants/{tenant_id}/users", tags=["users"])


def get_identity(request: Request) -> IdentityProvider:
    identity: IdentityProvider | None = request.app.state.identity
    if identity is None:
        raise ServiceUnavailable(
            "No identity provider is configured (TIREK_KEYCLOAK_CLIENT_SECRET).",
            title="Identity provider not configured",
        )
    return identity


Identity = Annotated[IdentityProvider, Depends(get_identity)]


async def _tenant(work: AdminWork, principal: Principal, tenant_id: uuid.UUID) -> Tenant:
    # A tenant administrator manages its own NGO's users only; another tenant is "not found".
    if not principal.has_any(Role.PLATFORM_ADMIN) and principal.tenant_id != tenant_id:
        raise NotFound("No such tenant.", slug="tenant-not-found")
    async with work() as session:
        return await tenants.get(session=session, tenant_id=tenant_id)


def _organization(tenant: Tenant) -> Organization:
    # Organization names are unique in a Keycloak realm and NGO display names need not be:
    # the code makes them so.
    display = tenant.names.get("en") or next(iter(tenant.names.values()), tenant.code)
    return Organization(
        tenant_id=tenant.id, alias=tenant.code.lower(), name=f"{display} [{tenant.code}]"
    )


@asynccontextmanager
async def _answers() -> AsyncIterator[None]:
    """The identity provider's refusals as problems (no 500 for a provider's failure)."""
    try:
        yield
    except UserExists:
        raise Conflict("The username is taken.", slug="username-taken") from None
    except UnknownUser:
        raise NotFound("No such user in this tenant.", slug="user-not-found") from None
    except IdentityError as exc:
        _log.warning(
            "identity provider refused an operation",
            extra={"error": str(exc), "provider_status": exc.status},
        )
        raise ServiceUnavailable("The identity provider did not carry out the change.") from None


def _out(user: IdentityUser) -> UserOut:
    return UserOut.model_validate(user)


@router.get("", response_model=list[UserOut])
async def list_users(
    tenant_id: uuid.UUID, principal: TenantReader, work: AdminWork, identity: Identity
) -> list[UserOut]:
    tenant = await _tenant(work, principal, tenant_id)
    async with _answers():
        return [_out(user) for user in await identity.list_users(_organization(tenant))]


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
    async with _answers():
        return _out(await identity.create_user(_organization(tenant), new))


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
    async with _answers():
        return _out(await identity.assign_roles(_organization(tenant), str(user_id), roles))


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
    async with _answers():
        return _out(await identity.deactivate(_organization(tenant), str(user_id)))
