"""Authentication and authorization: verify OIDC access tokens locally, know who is calling.

- :class:`TokenVerifier` checks a token against the issuer's JWKS and returns a
  :class:`Principal` (user, tenant, roles, language) or raises :class:`InvalidToken`.
- FastAPI: :data:`CurrentPrincipal`, :func:`require_roles`, :func:`get_principal`, with the
  verifier at ``app.state.token_verifier`` (see :func:`verifier_from_settings`).
"""

from tirek.auth.dependencies import (
    CurrentPrincipal,
    get_principal,
    require_roles,
    verifier_from_settings,
)
from tirek.auth.principal import Principal, Role
from tirek.auth.tokens import (
    LEEWAY_SECONDS,
    SUPPORTED_ALGORITHMS,
    InvalidToken,
    TokenVerifier,
    principal_from_claims,
)

__all__ = [
    "LEEWAY_SECONDS",
    "SUPPORTED_ALGORITHMS",
    "CurrentPrincipal",
    "InvalidToken",
    "Principal",
    "Role",
    "TokenVerifier",
    "get_principal",
    "principal_from_claims",
    "require_roles",
    "verifier_from_settings",
]
