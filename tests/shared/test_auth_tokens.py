"""Token verification (tirek.auth): what a service accepts, what it refuses, and why.

Tokens are crafted with jwcrypto and verified against a stand-in issuer on 127.0.0.1 whose
JWKS the test controls (to rotate keys and count fetches).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from jwcrypto.common import base64url_encode
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS
from jwcrypto.jwt import JWT

from tirek.auth import (
    CurrentPrincipal,
    InvalidToken,
    Principal,
    Role,
    TokenVerifier,
    require_roles,
    tokens,
)

AUDIENCE = "tirek-intake"
TENANT = uuid.UUID("2f9532e9-79be-5263-aea8-78c4a6e2314b")
OTHER_TENANT = uuid.UUID("0c1a4f57-0000-4000-8000-000000000001")
#: The id Keycloak gave the organization: never the tenant id.
KEYCLOAK_ORG = uuid.UUID("7d3c1f00-1111-4222-8333-444455556666")


def _rsa_key(name: str) -> JWK:
    key = JWK.generate(kty="RSA", size=2048)
    return JWK(**{**key.export_private(as_dict=True), "kid": name, "alg": "RS256", "use": "sig"})


KEY_A = _rsa_key("key-a")
KEY_B = _rsa_key("key-b")
ATTACKER = _rsa_key("attacker")


class StandInIssuer:
    """An OIDC issuer reduced to discovery and a JWKS, counting how often keys are fetched."""

    def __init__(self, keys: list[JWK], *, discovery: bool = True) -> None:
        self.keys = keys
        self.discovery = discovery
        self.jwks_fetches = 0
        self.requests: list[str] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration" and issuer.discovery:
                    self._json({"issuer": issuer.url, "jwks_uri": f"{issuer.url}/keys"})
                elif self.path == issuer.jwks_path:
                    issuer.jwks_fetches += 1
                    self._json({"keys": [k.export_public(as_dict=True) for k in issuer.keys]})
                else:
                    self.send_error(404)

            def _json(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.jwks_path = "/keys" if discovery else "/protocol/openid-connect/certs"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def issuer() -> Iterator[StandInIssuer]:
    server = StandInIssuer([KEY_A])
    yield server
    server.close()


def make_verifier(issuer: StandInIssuer, *, refetch_interval: float = 3600.0) -> TokenVerifier:
    return TokenVerifier(
        issuer=issuer.url,
        audience=AUDIENCE,
        algorithms=["RS256", "ES256"],
        refetch_interval=refetch_interval,
    )


@pytest.fixture
async def verifier(issuer: StandInIssuer) -> AsyncIterator[TokenVerifier]:
    verifier = make_verifier(issuer)
    yield verifier
    await verifier.aclose()


def claims_for(issuer: StandInIssuer, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer.url,
        "aud": [AUDIENCE, "tirek-referral"],
        "sub": "98e79a9f-042e-53b6-815b-b667f979636a",
        "azp": "tirek-web",
        "typ": "Bearer",
        "iat": now,
        "exp": now + 300,
        "preferred_username": "akt-caseworker",
        "locale": "kk",
        "realm_access": {"roles": ["caseworker", "default-roles-tirek", "offline_access"]},
        # Keycloak's layout: the organization's own id and the tenant id as its attribute.
        "organization": {"akt": {"id": str(KEYCLOAK_ORG), "tirek_tenant_id": [str(TENANT)]}},
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(claims: dict[str, Any], key: JWK = KEY_A, **header: Any) -> str:
    token = JWT(header={"alg": "RS256", "typ": "JWT", "kid": key["kid"], **header}, claims=claims)
    token.make_signed_token(key)
    serialized: str = token.serialize()
    return serialized


async def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    return caught.value.reason


async def test_valid_token_yields_the_callers_tenant_roles_and_language(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    principal = await verifier.verify(sign(claims_for(issuer)))

    assert principal == Principal(
        user_id="98e79a9f-042e-53b6-815b-b667f979636a",
        username="akt-caseworker",
        tenant_id=TENANT,
        roles=frozenset({Role.CASEWORKER}),  # unknown Keycloak roles are ignored
        language="kk",
    )
    assert principal.has_any(Role.CASE_MANAGER, Role.CASEWORKER)
    assert not principal.has_any(Role.CASE_MANAGER)


async def test_language_defaults_to_russian_without_locale(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    principal = await verifier.verify(sign(claims_for(issuer, locale=None)))
    assert principal.language == "ru"


async def test_expired_token_is_refused(issuer: StandInIssuer, verifier: TokenVerifier) -> None:
    token = sign(claims_for(issuer, iat=int(time.time()) - 600, exp=int(time.time()) - 120))
    assert await refused(verifier, token) == "token expired"


async def test_clock_skew_within_the_leeway_is_tolerated(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    token = sign(claims_for(issuer, exp=int(time.time()) - 5, nbf=int(time.time()) + 5))
    assert (await verifier.verify(token)).tenant_id == TENANT


async def test_token_without_expiry_is_refused(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    assert await refused(verifier, sign(claims_for(issuer, exp=None))) == "token has no expiry"


async def test_token_not_yet_valid_is_refused(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    token = sign(claims_for(issuer, nbf=int(time.time()) + 300))
    assert await refused(verifier, token) == "token not yet valid"


async def test_token_from_another_issuer_is_refused(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    token = sign(claims_for(issuer, iss="http://127.0.0.1:9/realms/elsewhere"))
    assert await refused(verifier, token) == "token from another issuer"


async def test_token_for_another_audience_is_refused(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    token = sign(claims_for(issuer, aud=["tirek-referral", "account"]))
    assert await refused(verifier, token) == "token not meant for this service"
    assert await refused(verifier, sign(claims_for(issuer, aud=None))) == (
        "token not meant for this service"
    )


async def test_audience_may_be_a_single_string(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    assert (await verifier.verify(sign(claims_for(issuer, aud=AUDIENCE)))).tenant_id == TENANT


async def test_id_token_is_not_accepted_as_an_access_token(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    assert await refused(verifier, sign(claims_for(issuer, typ="ID"))) == "not an access token"


async def test_unsigned_alg_none_token_is_refused(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    header = base64url_encode(json.dumps({"alg": "none", "kid": "key-a"}))
    payload = base64url_encode(json.dumps(claims_for(issuer)))
    assert await refused(verifier, f"{header}.{payload}.") == "signing algorithm not allowed"


async def test_hs256_token_signed_with_the_public_key_is_refused(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    # The classic key-confusion attack: the public key (which anyone can fetch) used as an
    # HMAC secret, under the kid of the real key.
    public_pem = KEY_A.export_to_pem(private_key=False, password=None)
    hmac_key = JWK(kty="oct", k=base64url_encode(public_pem))
    forged = JWS(json.dumps(claims_for(issuer)).encode())
    forged.add_signature(hmac_key, alg="HS256", protected={"alg": "HS256", "kid": "key-a"})

    assert await refused(verifier, forged.serialize(compact=True)) == (
        "signing algorithm not allowed"
    )


def test_verifier_cannot_be_configured_to_accept_none_or_hmac() -> None:
    for algorithms in (["none"], ["HS256"], ["RS256", "HS512"], []):
        with pytest.raises(ValueError):
            TokenVerifier(issuer="http://127.0.0.1:9", audience=AUDIENCE, algorithms=algorithms)


async def test_keys_named_in_token_headers_are_never_fetched_or_used(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    attacker_site = StandInIssuer([ATTACKER])
    try:
        public = ATTACKER.export_public(as_dict=True)
        carrying_keys = {
            "jku": f"{attacker_site.url}/keys",
            "x5u": f"{attacker_site.url}/cert.pem",
            "jwk": public,
        }
        # Under its own kid (unknown to the real issuer) and under the real key's kid.
        own_kid = sign(claims_for(issuer), ATTACKER, **carrying_keys)
        stolen_kid = sign(claims_for(issuer), ATTACKER, **{**carrying_keys, "kid": "key-a"})

        assert await refused(verifier, own_kid) == "unknown signing key"
        assert await refused(verifier, stolen_kid) == "bad signature"
        assert attacker_site.requests == []
    finally:
        attacker_site.close()


async def test_malformed_tokens_are_refused(issuer: StandInIssuer, verifier: TokenVerifier) -> None:
    good = sign(claims_for(issuer))
    header, payload, signature = good.split(".")
    json_serialization = json.dumps(
        {"protected": header, "payload": payload, "signature": signature}
    )
    for token in ("", "not-a-token", "a.b.c.d.e", json_serialization, good + "x" * 20000):
        assert await refused(verifier, token) == "malformed token"
    tampered = sign(claims_for(issuer, sub="someone-else")).split(".")[1]
    assert await refused(verifier, f"{header}.{tampered}.{signature}") == "bad signature"


async def test_unknown_kid_causes_one_refetch_then_refusal(issuer: StandInIssuer) -> None:
    verifier = make_verifier(issuer, refetch_interval=0.0)
    try:
        await verifier.verify(sign(claims_for(issuer)))
        assert issuer.jwks_fetches == 1

        assert await refused(verifier, sign(claims_for(issuer), KEY_B)) == "unknown signing key"
        assert issuer.jwks_fetches == 2
    finally:
        await verifier.aclose()


async def test_unknown_kid_refetches_are_rate_limited(
    issuer: StandInIssuer, verifier: TokenVerifier
) -> None:
    await verifier.verify(sign(claims_for(issuer)))
    for _ in range(5):
        await refused(verifier, sign(claims_for(issuer), KEY_B))
    assert issuer.jwks_fetches == 1, "a flood of unknown key ids must not hammer the issuer"


async def test_rotated_key_is_picked_up_after_refetch_and_retired_key_refused(
    issuer: StandInIssuer,
) -> None:
    verifier = make_verifier(issuer, refetch_interval=0.0)
    try:
        await verifier.verify(sign(claims_for(issuer), KEY_A))
        issuer.keys = [KEY_B]

        principal = await verifier.verify(sign(claims_for(issuer), KEY_B))
        assert principal.tenant_id == TENANT
        assert issuer.jwks_fetches == 2
        assert await refused(verifier, sign(claims_for(issuer), KEY_A)) == "unknown signing key"
    finally:
        await verifier.aclose()


async def test_concurrent_callers_share_one_key_fetch(issuer: StandInIssuer) -> None:
    verifier = make_verifier(issuer, refetch_interval=0.0)
    try:
        token_a = sign(claims_for(issuer), KEY_A)
        await asyncio.gather(*(verifier.verify(token_a) for _ in range(10)))
        assert issuer.jwks_fetches == 1

        issuer.keys = [KEY_A, KEY_B]
        token_b = sign(claims_for(issuer), KEY_B)
        principals = await asyncio.gather(*(verifier.verify(token_b) for _ in range(10)))
        assert {p.tenant_id for p in principals} == {TENANT}
        assert issuer.jwks_fetches == 2
    finally:
        await verifier.aclose()


async def test_concurrent_callers_with_an_unknown_kid_share_one_refetch(
    issuer: StandInIssuer,
) -> None:
    verifier = make_verifier(issuer, refetch_interval=0.0)
    try:
        await verifier.verify(sign(claims_for(issuer), KEY_A))
        forged = sign(claims_for(issuer), KEY_B)
        outcomes = await asyncio.gather(
            *(verifier.verify(forged) for _ in range(10)), return_exceptions=True
        )
        assert all(isinstance(outcome, InvalidToken) for outcome in outcomes)
        assert issuer.jwks_fetches == 2, "callers waiting on one refetch must share it"
    finally:
        await verifier.aclose()


async def test_keycloak_certs_path_is_used_without_discovery() -> None:
    issuer = StandInIssuer([KEY_A], discovery=False)
    verifier = make_verifier(issuer)
    try:
        assert (await verifier.verify(sign(claims_for(issuer)))).tenant_id == TENANT
        assert issuer.jwks_fetches == 1
    finally:
        await verifier.aclose()
        issuer.close()


async def test_unreachable_issuer_refuses_tokens() -> None:
    issuer = StandInIssuer([KEY_A])
    issuer.close()
    verifier = make_verifier(issuer)
    try:
        reason = await refused(verifier, sign(claims_for(issuer)))
        assert reason == "issuer signing keys unavailable"
    finally:
        await verifier.aclose()


@pytest.mark.parametrize(
    "tenant_claims",
    [
        pytest.param(
            {"organization": {"akt": {"id": str(KEYCLOAK_ORG), "tirek_tenant_id": [str(TENANT)]}}},
            id="dict",
        ),
        pytest.param(
            {"organization": {"akt": {"tirek_tenant_id": str(TENANT), "region": ["Aktobe"]}}},
            id="dict-attribute-as-string",
        ),
        pytest.param({"organization": [str(TENANT)]}, id="list"),
        pytest.param({"organization": str(TENANT)}, id="string"),
        pytest.param({"organization": None, "tenant": str(TENANT)}, id="tenant-claim"),
    ],
)
async def test_every_organization_claim_shape_names_the_tenant(
    issuer: StandInIssuer, verifier: TokenVerifier, tenant_claims: dict[str, Any]
) -> None:
    principal = await verifier.verify(sign(claims_for(issuer, **tenant_claims)))
    assert principal.tenant_id == TENANT


@pytest.mark.parametrize(
    ("tenant_claims", "reason"),
    [
        pytest.param({"organization": None}, "token names no tenant", id="missing"),
        pytest.param({"organization": {}}, "token names no tenant", id="empty-dict"),
        pytest.param({"organization": ["akt"]}, "tenant is not an id", id="alias-only"),
        pytest.param({"tenant": "akt", "organization": None}, "tenant is not an id", id="tenant"),
        pytest.param(
            {"organization": [str(TENANT), str(OTHER_TENANT)]},
            "token names more than one tenant",
            id="two-organizations",
        ),
        pytest.param(
            {"tenant": str(OTHER_TENANT)},
            "token names more than one tenant",
            id="organization-and-tenant-disagree",
        ),
        pytest.param(
            {"organization": {"akt": {}}}, "organization carries no tenant id", id="no-id"
        ),
        pytest.param(
            # Keycloak's organization id is not a tenant id: never taken as one.
            {"organization": {"akt": {"id": str(TENANT)}}},
            "organization carries no tenant id",
            id="organization-id-only",
        ),
        pytest.param(
            {"organization": {"akt": {"tirek_tenant_id": [str(TENANT), str(OTHER_TENANT)]}}},
            "organization carries no single tenant id",
            id="two-tenant-ids",
        ),
        pytest.param(
            {
                "organization": {
                    "akt": {"tirek_tenant_id": [str(TENANT)]},
                    "osh": {"tirek_tenant_id": [str(OTHER_TENANT)]},
                }
            },
            "token names more than one tenant",
            id="two-memberships",
        ),
    ],
)
async def test_token_without_one_clear_tenant_is_refused(
    issuer: StandInIssuer,
    verifier: TokenVerifier,
    tenant_claims: dict[str, Any],
    reason: str,
) -> None:
    assert await refused(verifier, sign(claims_for(issuer, **tenant_claims))) == reason


# --- FastAPI dependencies -------------------------------------------------------------------


@pytest.fixture
async def service(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.token_verifier = verifier

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"tenant": str(principal.tenant_id), "username": principal.username}

    @app.post("/approvals")
    async def approve(
        principal: Principal = Depends(require_roles(Role.CASE_MANAGER, Role.TENANT_ADMIN)),
    ) -> dict[str, str]:
        return {"approved_by": principal.username}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


async def test_request_without_a_token_gets_401_with_a_bearer_challenge(
    service: httpx.AsyncClient,
) -> None:
    response = await service.get("/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"

    basic = await service.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


async def test_request_with_an_invalid_token_gets_401(
    issuer: StandInIssuer, service: httpx.AsyncClient
) -> None:
    expired = sign(claims_for(issuer, exp=int(time.time()) - 600))
    response = await service.get("/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"] == "token expired"


async def test_valid_token_reaches_the_endpoint_as_the_principal(
    issuer: StandInIssuer, service: httpx.AsyncClient
) -> None:
    token = sign(claims_for(issuer))
    response = await service.get("/me", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"tenant": str(TENANT), "username": "akt-caseworker"}


async def test_caseworker_is_refused_an_endpoint_for_case_managers(
    issuer: StandInIssuer, service: httpx.AsyncClient
) -> None:
    caseworker = sign(claims_for(issuer))
    response = await service.post("/approvals", headers={"Authorization": f"Bearer {caseworker}"})
    assert response.status_code == 403

    manager = sign(
        claims_for(
            issuer, preferred_username="akt-manager", realm_access={"roles": ["case_manager"]}
        )
    )
    response = await service.post("/approvals", headers={"Authorization": f"Bearer {manager}"})
    assert response.status_code == 200
    assert response.json() == {"approved_by": "akt-manager"}


# ----------------------------------------------------------------------------- remembered tokens


async def test_a_token_is_verified_once_and_then_remembered(
    issuer: StandInIssuer, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified = []
    real = tokens._verified_claims

    def counting(token: str, key: JWK, alg: str) -> dict[str, Any]:
        verified.append(token)
        return real(token, key, alg)

    monkeypatch.setattr(tokens, "_verified_claims", counting)
    token = sign(claims_for(issuer))
    first, again = await verifier.verify(token), await verifier.verify(token)
    assert first == again
    assert len(verified) == 1
    # Another signature over the same claims is not the remembered token.
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    assert await refused(verifier, forged) == "bad signature"


async def test_a_remembered_token_still_expires(
    issuer: StandInIssuer, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    token = sign(claims_for(issuer, exp=int(now) + 60))
    await verifier.verify(token)
    monkeypatch.setattr(tokens.time, "time", lambda: now + 60 + tokens.LEEWAY_SECONDS + 1)
    assert await refused(verifier, token) == "token expired"


async def test_a_remembered_token_is_forgotten_when_its_key_is_retired(
    issuer: StandInIssuer,
) -> None:
    verifier = make_verifier(issuer, refetch_interval=0.0)
    try:
        remembered = sign(claims_for(issuer), KEY_A)
        await verifier.verify(remembered)
        issuer.keys = [KEY_B]
        await verifier.verify(sign(claims_for(issuer), KEY_B))  # unknown kid: JWKS refetched
        assert await refused(verifier, remembered) == "unknown signing key"
    finally:
        await verifier.aclose()
