"""The development OIDC issuer (``python -m tirek.devidp``): Keycloak's paths, claims and grants.

Local runs and tests use it instead of Keycloak; python-keycloak's ``KeycloakOpenID`` works
against it unchanged (``server_url="http://127.0.0.1:8080/"``, ``realm_name="tirek"``).
Keys, client secrets and users live in a data directory (default ``.tirek/devidp/``) and
survive restarts. It refuses to start with ``TIREK_ENV=production``.
"""

from tirek.devidp.app import (
    DEFAULT_ACCESS_TOKEN_LIFETIME,
    REALM,
    ProductionRefused,
    create_app,
    ensure_not_production,
)
from tirek.devidp.clients import PUBLIC_CLIENT, SERVICE_CLIENTS, load_client_secrets
from tirek.devidp.organizations import Organizations
from tirek.devidp.users import DevUser, UnknownUser, UserStore, demo_organization_id

__all__ = [
    "DEFAULT_ACCESS_TOKEN_LIFETIME",
    "PUBLIC_CLIENT",
    "REALM",
    "SERVICE_CLIENTS",
    "DevUser",
    "Organizations",
    "ProductionRefused",
    "UnknownUser",
    "UserStore",
    "create_app",
    "demo_organization_id",
    "ensure_not_production",
    "load_client_secrets",
]
