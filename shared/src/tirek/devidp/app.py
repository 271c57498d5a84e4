"""The development OIDC issuer: Keycloak's paths and token layout for realm ``tirek``.

Serves what python-keycloak's ``KeycloakOpenID`` calls — the discovery document, the JWKS,
the realm info (``public_key``), the token endpoint (password and client-credentials grants)
and userinfo — so services and scripts use the same client code here as against Keycloak.
Development and tests only: :func:`create_app` refuses ``TIREK_ENV=production``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from jwcrypto.jwk import JWK
from jwcrypto.jwt import JWT
from starlette.concurrency import run_in_threadpool

from tirek.devidp.admin_api import AdminApi
from tirek.devidp.clients import PUBLIC_CLIENT, SERVICE_CLIENTS, load_client_secrets
from tirek.devidp.files import ensure_data_dir
from tirek.devidp.keys import (
    SIGNING_ALGORITHM,
    load_signing_key,
    public_jwk,
    public_key_base64,
)
from tirek.devidp.organizations import Organizations
from tirek.devidp.users import DevUser, UserStore, coordination_organization_id

REALM = "tirek"
DEFAULT_ACCESS_TOKEN_LIFETIME = 15 * 60
#: Keycloak's default client scopes, granted to every token.
_DEFAULT_SCOPES = ("profile", "email")
#: Keycloak gives every user this composite role; services ignore it.
_DEFAULT_ROLE = f"default-roles-{REALM}"
_USERINFO_CLAIMS = (
    "sub",
    "preferred_username",
    "email",
    "email_verified",
    "given_name",
    "family_name",
    "name",
    "locale",
    "organization",
)
_SERVICE_ACCOUNT_NS = uuid.UUID("0b6f6c47-3c1e-4d8a-9f57-5a4c5e2f8d31")


class ProductionRefused(RuntimeError):
    """The development issuer must never serve a production deployment."""


def ensure_not_production() -> None:
    """Raise :class:`ProductionRefused` when ``TIREK_ENV`` says production."""
    if os.environ.get("TIREK_ENV", "").strip().lower() == "production":
        raise ProductionRefused(
            "the development issuer refuses to run with TIREK_ENV=production; "
            "production uses Keycloak (see deploy/)"
        )


def create_app(
    data_dir: Path,
    base_url: str | None = None,
    *,
    access_token_lifetime: int = DEFAULT_ACCESS_TOKEN_LIFETIME,
) -> FastAPI:
    """The issuer as an ASGI app, with keys, client secrets and users kept in ``data_dir``.

    The issuer URL is ``{base_url}/realms/tirek``; without ``base_url`` it is taken from each
    request's own base URL (so a client must reach it under the name services expect in
    ``iss``). The user store is at ``app.state.user_store``, the organizations at
    ``app.state.organizations``.
    """
    ensure_not_production()
    ensure_data_dir(data_dir)
    organizations = Organizations(data_dir)
    issuer_app = _Issuer(
        key=load_signing_key(data_dir),
        users=UserStore.open(data_dir),
        organizations=organizations,
        client_secrets=load_client_secrets(data_dir),
        base_url=base_url.rstrip("/") if base_url else None,
        access_token_lifetime=access_token_lifetime,
    )
    app = FastAPI(
        title="Tirek development issuer",
        description="Keycloak-compatible OIDC issuer for development and tests only.",
    )
    app.state.user_store = issuer_app.users
    app.state.organizations = organizations
    app.include_router(issuer_app.router())
    # Keycloak's admin API for the users above (what admin's identity adapter calls).
    admin_api = AdminApi(
        key=issuer_app.key,
        users=issuer_app.users,
        organizations=organizations,
        issuer=issuer_app.issuer,
    )
    app.include_router(admin_api.router(REALM))

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _oauth_error(status_code: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


class _Issuer:
    def __init__(
        self,
        *,
        key: JWK,
        users: UserStore,
        organizations: Organizations,
        client_secrets: dict[str, str],
        base_url: str | None,
        access_token_lifetime: int,
    ) -> None:
        self.key = key
        self.kid: str = key["kid"]
        self.users = users
        self.organizations = organizations
        self.client_secrets = client_secrets
        self.base_url = base_url
        self.lifetime = access_token_lifetime

    def issuer(self, request: Request) -> str:
        base = self.base_url or str(request.base_url).rstrip("/")
        return f"{base}/realms/{REALM}"

    def router(self) -> APIRouter:
        router = APIRouter(prefix=f"/realms/{REALM}")
        router.add_api_route("", self.realm_info, methods=["GET"])
        router.add_api_route("/.well-known/openid-configuration", self.discovery, methods=["GET"])
        router.add_api_route("/protocol/openid-connect/certs", self.certs, methods=["GET"])
        router.add_api_route("/protocol/openid-connect/token", self.token, methods=["POST"])
        router.add_api_route(
            "/protocol/openid-connect/userinfo", self.userinfo, methods=["GET", "POST"]
        )
        return router

    async def realm_info(self, request: Request) -> dict[str, Any]:
        issuer = self.issuer(request)
        return {
            "realm": REALM,
            "public_key": public_key_base64(self.key),
            "token-service": f"{issuer}/protocol/openid-connect",
            "account-service": f"{issuer}/account",
            "tokens-not-before": 0,
        }

    async def discovery(self, request: Request) -> dict[str, Any]:
        issuer = self.issuer(request)
        endpoints = f"{issuer}/protocol/openid-connect"
        return {
            "issuer": issuer,
            "token_endpoint": f"{endpoints}/token",
            "userinfo_endpoint": f"{endpoints}/userinfo",
            "jwks_uri": f"{endpoints}/certs",
            "grant_types_supported": ["password", "client_credentials"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [SIGNING_ALGORITHM],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "scopes_supported": ["openid", *_DEFAULT_SCOPES],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "azp",
                "preferred_username",
                "email",
                "given_name",
                "family_name",
                "name",
                "locale",
                "realm_access",
                "organization",
            ],
        }

    async def certs(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.key)]}

    async def token(self, request: Request) -> JSONResponse:
        form = _form(await request.body())
        client_id, client_secret = _client_credentials(request, form)
        if client_id == PUBLIC_CLIENT:
            confidential = False
        elif client_id in self.client_secrets:
            confidential = True
            if not hmac.compare_digest(
                client_secret.encode(), self.client_secrets[client_id].encode()
            ):
                return _oauth_error(
                    401, "unauthorized_client", "Invalid client or Invalid client credentials"
                )
        else:
            return _oauth_error(
                401, "invalid_client", "Invalid client or Invalid client credentials"
            )

        grant_type = form.get("grant_type", "")
        scopes = _scopes(form.get("scope", ""))
        if grant_type == "password":
            user = await run_in_threadpool(
                self.users.authenticate, form.get("username", ""), form.get("password", "")
            )
            if user is None:
                return _oauth_error(401, "invalid_grant", "Invalid user credentials")
            claims = self._user_claims(user)
        elif grant_type == "client_credentials":
            if not confidential:
                return _oauth_error(
                    401,
                    "unauthorized_client",
                    "Public client not allowed to retrieve service account",
                )
            claims = self._service_account_claims(client_id)
        else:
            return _oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")

        issuer = self.issuer(request)
        now = int(time.time())
        scope = " ".join(scopes)
        access = {
            "exp": now + self.lifetime,
            "iat": now,
            "nbf": now,
            "jti": str(uuid.uuid4()),
            "iss": issuer,
            "aud": list(SERVICE_CLIENTS),
            "typ": "Bearer",
            "azp": client_id,
            "scope": scope,
            **claims,
        }
        body: dict[str, Any] = {
            "access_token": self._sign(access),
            "expires_in": self.lifetime,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": scope,
        }
        if grant_type == "password" and "openid" in scopes:
            identity = {
                key: value
                for key, value in access.items()
                if key not in ("aud", "typ", "scope", "realm_access", "nbf")
            }
            body["id_token"] = self._sign({**identity, "aud": client_id, "typ": "ID"})
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def userinfo(self, request: Request) -> JSONResponse:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise ValueError("no bearer token")
            verified = JWT(
                jwt=token.strip(),
                key=self.key,
                algs=[SIGNING_ALGORITHM],
                # "exp": None makes jwcrypto check expiry (it skips it otherwise).
                check_claims={"iss": self.issuer(request), "exp": None, "typ": "Bearer"},
                expected_type="JWS",
            )
            claims = _json_object(verified.claims)
        except Exception:  # any failure means the same to the caller
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Token verification failed"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return JSONResponse({key: claims[key] for key in _USERINFO_CLAIMS if key in claims})

    def _user_claims(self, user: DevUser) -> dict[str, Any]:
        name = " ".join(part for part in (user.first_name, user.last_name) if part)
        claims: dict[str, Any] = {
            "sub": user.id,
            "preferred_username": user.username,
            "email": user.email,
            "email_verified": bool(user.email),
            "given_name": user.first_name,
            "family_name": user.last_name,
            "name": name,
            "locale": user.locale,
            "realm_access": {"roles": [*user.roles, _DEFAULT_ROLE]},
        }
        # As Keycloak's organization membership mapper: left out for a disabled organization
        # (every service then refuses the token: it names no tenant).
        organization = self.organizations.tenant_claim(user.organization_id)
        if organization is not None:
            claims["organization"] = organization
        return claims

    def _service_account_claims(self, client_id: str) -> dict[str, Any]:
        # A service account acts for the consortium itself, with no user role: services
        # recognise it by azp/client_id, not by realm roles.
        return {
            "sub": str(uuid.uuid5(_SERVICE_ACCOUNT_NS, client_id)),
            "preferred_username": f"service-account-{client_id}",
            "client_id": client_id,
            "locale": "en",
            "realm_access": {"roles": [_DEFAULT_ROLE]},
            "organization": self.organizations.tenant_claim(coordination_organization_id()),
        }

    def _sign(self, claims: dict[str, Any]) -> str:
        token = JWT(header={"alg": SIGNING_ALGORITHM, "typ": "JWT", "kid": self.kid}, claims=claims)
        token.make_signed_token(self.key)
        serialized: str = token.serialize()
        return serialized


def _form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, first value of each field."""
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {name: values[0] for name, values in parsed.items()}


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """Client id and secret from HTTP Basic (client_secret_basic) or the form (…_post)."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def _scopes(requested: str) -> list[str]:
    scopes = ["openid"] if "openid" in requested.split() else []
    return [*scopes, *_DEFAULT_SCOPES]


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("claims are not a JSON object")
    return value
