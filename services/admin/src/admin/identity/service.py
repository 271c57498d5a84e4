"""What every domain of admin uses of the identity provider: the provider itself (a
dependency), a tenant's organization, and the provider's refusals as problem details."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request

from admin.identity.provider import (
    IdentityError,
    IdentityProvider,
    Organization,
    OrganizationConflict,
    UnknownUser,
    UserExists,
)
from admin.tenants.models import Tenant
from tirek.web.problems import Conflict, NotFound, ServiceUnavailable

_log = logging.getLogger("admin.identity")


async def get_optional_identity(request: Request) -> IdentityProvider | None:
    """The configured identity provider, or ``None`` (no ``TIREK_KEYCLOAK_CLIENT_SECRET``)."""
    identity: IdentityProvider | None = request.app.state.identity
    return identity


async def get_identity(request: Request) -> IdentityProvider:
    """The configured identity provider; 503 when none is configured."""
    identity: IdentityProvider | None = request.app.state.identity
    if identity is None:
        raise ServiceUnavailable(
            "No identity provider is configured (TIREK_KEYCLOAK_CLIENT_SECRET).",
            title="Identity provider not configured",
        )
    return identity


Identity = Annotated[IdentityProvider, Depends(get_identity)]
#: For changes that also stand without the identity provider (suspension: every service
#: refuses the tenant's tokens through ``tenant.suspended`` whatever the provider does).
MaybeIdentity = Annotated[IdentityProvider | None, Depends(get_optional_identity)]


def organization_of(tenant: Tenant) -> Organization:
    """The tenant's organization in the identity provider."""
    # Organization names are unique in a Keycloak realm and NGO display names need not be:
    # the code makes them so.
    display = tenant.names.get("en") or next(iter(tenant.names.values()), tenant.code)
    return Organization(
        tenant_id=tenant.id, alias=tenant.code.lower(), name=f"{display} [{tenant.code}]"
    )


@asynccontextmanager
async def identity_answers() -> AsyncIterator[None]:
    """The identity provider's refusals as problems (no 500 for a provider's failure)."""
    try:
        yield
    except UserExists:
        raise Conflict("The username is taken.", slug="username-taken") from None
    except UnknownUser:
        raise NotFound("No such user in this tenant.", slug="user-not-found") from None
    except OrganizationConflict:
        raise Conflict(
            "The identity provider's organization with this tenant's alias belongs to another "
            "tenant.",
            slug="organization-taken",
        ) from None
    except IdentityError as exc:
        _log.warning(
            "identity provider refused an operation",
            extra={"error": str(exc), "provider_status": exc.status},
        )
        raise ServiceUnavailable("The identity provider did not carry out the change.") from None
