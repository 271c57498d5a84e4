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


def verifier_from_settings(settings: ServiceSettings) -> TokenVerifier:
    """A verifier for the service's configured issuer, audience and algorithms."""
    return TokenVerifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        algorithms=settings.oidc_algorithms,
        refetch_interval=settings.jwks_refetch_interval,
    )


async def get_principal(request: Request) -> Principal:
    """The verified caller of this request; 401 when the bearer token is missing or invalid,
    403 when the caller's tenant is suspended (``app.state.tenant_suspensions``, when set)."""
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
        principal = await verifier.verify(token)
    except InvalidToken as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=exc.reason, headers=_CHALLENGE
        ) from None
    # A suspended NGO's tokens stay valid at the issuer until they expire: refuse them here.
    suspensions = getattr(request.app.state, "tenant_suspensions", None)
    if isinstance(suspensions, TenantSuspensions) and suspensions.is_suspended(principal.tenant_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=SUSPENDED_DETAIL)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


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
