"""deploy/keycloak/tirek-realm.json: the realm Keycloak imports at start carries what the
services check in every token — realm roles, the service audiences, the organization id."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tirek.localstack.stack import SERVICES

REALM_FILE = Path(__file__).resolve().parents[2] / "deploy" / "keycloak" / "tirek-realm.json"
ROLES = {"caseworker", "case_manager", "tenant_admin", "coordinator", "platform_admin"}
SERVICE_CLIENTS = [f"tirek-{s.name}" for s in SERVICES]


@pytest.fixture(scope="module")
def realm() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def clients(realm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {client["clientId"]: client for client in realm["clients"]}


@pytest.fixture(scope="module")
def scopes(realm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {scope["name"]: scope for scope in realm["clientScopes"]}


def mappers_of(holder: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [m for m in holder.get("protocolMappers", []) if m["protocolMapper"] == kind]


def token_scopes(client: dict[str, Any], scopes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [client, *(scopes[name] for name in client["defaultClientScopes"])]


def test_the_realm_is_tirek_with_organizations_enabled(realm: dict[str, Any]) -> None:
    assert realm["realm"] == "tirek"
    assert realm["enabled"] is True
    assert realm["organizationsEnabled"] is True


def test_the_realm_defines_exactly_the_five_roles(realm: dict[str, Any]) -> None:
    assert {role["name"] for role in realm["roles"]["realm"]} == ROLES


def test_the_web_client_is_public_and_every_service_has_a_confidential_client(
    clients: dict[str, dict[str, Any]],
) -> None:
    assert clients["tirek-web"]["publicClient"] is True
    for client_id in SERVICE_CLIENTS:
        client = clients[client_id]
        assert client["publicClient"] is False
        assert client["serviceAccountsEnabled"] is True
        # Secrets come from the environment at import, never from this file.
        assert re.fullmatch(r"\$\{TIREK_KEYCLOAK_SECRET_[A-Z]+\}", client["secret"])


@pytest.mark.parametrize("client_id", SERVICE_CLIENTS)
def test_each_service_client_puts_itself_in_aud(
    clients: dict[str, dict[str, Any]], client_id: str
) -> None:
    (mapper,) = mappers_of(clients[client_id], "oidc-audience-mapper")
    assert mapper["config"]["included.client.audience"] == client_id
    assert mapper["config"]["access.token.claim"] == "true"


@pytest.mark.parametrize("client_id", ["tirek-web", *SERVICE_CLIENTS])
def test_tokens_carry_every_service_audience_roles_and_the_organization_id(
    clients: dict[str, dict[str, Any]], scopes: dict[str, dict[str, Any]], client_id: str
) -> None:
    holders = token_scopes(clients[client_id], scopes)
    audiences = {
        m["config"]["included.client.audience"]
        for holder in holders
        for m in mappers_of(holder, "oidc-audience-mapper")
        if m["config"].get("access.token.claim") == "true"
    }
    assert set(SERVICE_CLIENTS) <= audiences

    (roles,) = [m for h in holders for m in mappers_of(h, "oidc-usermodel-realm-role-mapper")]
    assert roles["config"]["claim.name"] == "realm_access.roles"
    assert [m for h in holders for m in mappers_of(h, "oidc-sub-mapper")], "tokens need sub"

    (organization,) = [
        m for h in holders for m in mappers_of(h, "oidc-organization-membership-mapper")
    ]
    config = organization["config"]
    assert config["claim.name"] == "organization"
    # {alias: {"id": <Keycloak's id>, "tirek_tenant_id": [<tenant id>]}}: the tenant id is the
    # organization's attribute (tirek.auth.tenant_from_claims); without attributes, JSON and
    # multivalued the claim would hold aliases only.
    assert config["addOrganizationAttributes"] == "true"
    assert config["addOrganizationId"] == "true"
    assert config["jsonType.label"] == "JSON"
    assert config["multivalued"] == "true"
    assert config["access.token.claim"] == "true"


def test_the_organization_mapper_sits_in_the_scope_keycloak_resolves_organizations_from(
    scopes: dict[str, dict[str, Any]],
) -> None:
    # Keycloak maps organizations only when a scope named "organization" is in the token's
    # scope string: the scope must be listed there (include.in.token.scope).
    organization = scopes["organization"]
    assert organization["attributes"]["include.in.token.scope"] == "true"
    assert mappers_of(organization, "oidc-organization-membership-mapper")


def test_every_default_scope_a_client_names_is_defined(
    realm: dict[str, Any], clients: dict[str, dict[str, Any]], scopes: dict[str, dict[str, Any]]
) -> None:
    named = set(realm["defaultDefaultClientScopes"])
    for client in clients.values():
        named |= set(client["defaultClientScopes"]) | set(client.get("optionalClientScopes", []))
    assert named <= set(scopes)


def test_the_admin_service_account_may_manage_organizations_and_users(
    realm: dict[str, Any],
) -> None:
    (account,) = [u for u in realm["users"] if u.get("serviceAccountClientId") == "tirek-admin"]
    granted = set(account["clientRoles"]["realm-management"])
    assert {"manage-realm", "manage-users"} <= granted
    others = [u for u in realm["users"] if u.get("serviceAccountClientId") != "tirek-admin"]
    assert not others, "no other account ships with the realm"
