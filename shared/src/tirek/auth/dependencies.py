"""FastAPI dependencies: the caller's principal from ``Authorization: Bearer`` and role gates.

A service wires one verifier at start-up (``app.state.token_verifier =
verifier_from_settings(settings)``) and declares endpoints with :data:`CurrentPrincipal` or
``Depends(require_roles(Role.CASE_MANAGER))``. Failures raise :class:`fastapi.HTTPException`
(401 with ``WWW-Authenticate: Bearer``, or 403); the application's problem-details handler
renders them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from tirek.auth.principal import Principal, Role
from tirek.auth.suspension import TenantSuspensions
from tirek.auth.tokens import InvalidToken, TokenVerifier
from tirek.settings import ServiceSettings

_CHALLENGE = {"WWW-Authenticate": "Bearer"}

#: The problem detail a suspended tenant's users receive (403).
SUSPENDED_DETAIL = "Your organisation is suspended."
#: The problem detail of an export asked for while the NGO is not leaving (409).
NOT_OFFBOARDING_DETAIL = "The export of your organisation's data is offered during offboarding."


def verifier_from_settings(settings: ServiceSettings) -> TokenVerifier:
    """A verifier for the service's configured issuer, audience and algorithms."""
    return TokenVerifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        algorithms=settings.oidc_algorithms,
        refetch_interval=settings.jwks_refetch_interval,
    )


async def _verified_principal(request: Request) -> Principal:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        # A wiring mistake, not the caller's: fail loudly rather than let anyone in.
        raise RuntimeError("app.state.token_verifier is not set to a TokenVerifier")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail="bearer token required", headers=_CHALLENGE
        )
    try:
        return await verifier.verify(token)
    except InvalidToken as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=exc.reason, headers=_CHALLENGE
        ) from None


def _suspensions(request: Request) -> TenantSuspensions | None:
    suspensions = getattr(request.app.state, "tenant_suspensions", None)
    return suspensions if isinstance(suspensions, TenantSuspensions) else None


async def get_principal(request: Request) -> Principal:
    """The verified caller of this request; 401 when the bearer token is missing or invalid,
    403 when the caller's tenant is suspended, being offboarded or offboarded
    (``app.state.tenant_suspensions``, when set)."""
    principal = await _verified_principal(request)
    # A suspended NGO's tokens stay valid at the issuer until they expire: refuse them here.
    suspensions = _suspensions(request)
    if suspensions is not None and suspensions.is_suspended(principal.tenant_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=SUSPENDED_DETAIL)
    return principal


async def get_exporting_admin(request: Request) -> Principal:
    """The caller of a tenant export (:mod:`tirek.web.tenant_export`): a tenant administrator
    whose NGO is being offboarded — the one thing its users may still do. 401 as
    :func:`get_principal`; 403 for any other role; 409 while the NGO is not being offboarded
    (the export is the leaving NGO's, not a way around "tenant administrators read no
    case")."""
    principal = await _verified_principal(request)
    if not principal.has_any(Role.TENANT_ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="requires a role: tenant_admin")
    suspensions = _suspensions(request)
    if suspensions is None or not suspensions.is_offboarding(principal.tenant_id):
        raise HTTPException(status.HTTP_409_CONFLICT, detail=NOT_OFFBOARDING_DETAIL)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
#: A tenant administrator of an NGO being offboarded (:func:`get_exporting_admin`).
ExportingTenantAdmin = Annotated[Principal, Depends(get_exporting_admin)]


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency returning the principal when it holds any of ``roles``, else 403."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    needed = ", ".join(sorted(role.value for role in roles))

    async def principal_with_role(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any(*roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"requires a role: {needed}")
        return principal

    return principal_with_role
