"""Authentication and authorization: verify OIDC access tokens locally, know who is calling.

- :class:`TokenVerifier` checks a token against the issuer's JWKS and returns a
  :class:`Principal` (user, tenant, roles, language) or raises :class:`InvalidToken`.
- :class:`TenantSuspensions`: the suspended tenants, replayed from ``tenant.*`` events; their
  tokens are refused with 403 (``app.state.tenant_suspensions``).
- FastAPI: :data:`CurrentPrincipal`, :func:`require_roles`, :func:`get_principal`,
  :data:`ExportingTenantAdmin` (the leaving NGO's administrator), with the verifier at
  ``app.state.token_verifier`` (see :func:`verifier_from_settings`).
"""

from tirek.auth.dependencies import (
    NOT_OFFBOARDING_DETAIL,
    SUSPENDED_DETAIL,
    CurrentPrincipal,
    ExportingTenantAdmin,
    get_exporting_admin,
    get_principal,
    require_roles,
    verifier_from_settings,
)
from tirek.auth.principal import Principal, Role
from tirek.auth.suspension import TenantSuspensions
from tirek.auth.tokens import (
    LEEWAY_SECONDS,
    SUPPORTED_ALGORITHMS,
    TENANT_ATTRIBUTE,
    InvalidToken,
    TokenVerifier,
    principal_from_claims,
    tenant_from_claims,
)

__all__ = [
    "LEEWAY_SECONDS",
    "NOT_OFFBOARDING_DETAIL",
    "SUPPORTED_ALGORITHMS",
    "SUSPENDED_DETAIL",
    "TENANT_ATTRIBUTE",
    "CurrentPrincipal",
    "ExportingTenantAdmin",
    "InvalidToken",
    "Principal",
    "Role",
    "TenantSuspensions",
    "TokenVerifier",
    "get_exporting_admin",
    "get_principal",
    "principal_from_claims",
    "require_roles",
    "tenant_from_claims",
    "verifier_from_settings",
]
