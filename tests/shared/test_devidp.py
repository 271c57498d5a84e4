"""The development issuer (tirek.devidp) as python-keycloak and tirek.auth see it, over HTTP.

Each issuer runs under uvicorn in a thread, on a socket bound to a free port on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from jwcrypto.common import base64url_decode
from jwcrypto.jwk import JWK, JWKSet
from jwcrypto.jwt import JWT
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError

from tirek.auth import Role, TokenVerifier
from tirek.demo import DEMO_PASSWORD, USERS, tenant_by_code
from tirek.devidp import (
    PUBLIC_CLIENT,
    SERVICE_CLIENTS,
    DevUser,
    ProductionRefused,
    UserStore,
    create_app,
    demo_organization_id,
    load_client_secrets,
)


class RunningIssuer:
    """The issuer app served by uvicorn in a background thread."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.app: FastAPI = create_app(data_dir)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.issuer = f"{self.url}/realms/tirek"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the development issuer did not start")
            time.sleep(0.02)

    @property
    def users(self) -> UserStore:
        store: UserStore = self.app.state.user_store
        return store

    def client(self, client_id: str = PUBLIC_CLIENT, secret: str | None = None) -> KeycloakOpenID:
        return KeycloakOpenID(
            server_url=f"{self.url}/",
            realm_name="tirek",
            client_id=client_id,
            client_secret_key=secret,
        )

    def verifier(self, audience: str = "tirek-intake") -> TokenVerifier:
        return TokenVerifier(issuer=self.issuer, audience=audience, algorithms=["RS256"])

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def devidp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIssuer]:
    issuer = RunningIssuer(tmp_path_factory.mktemp("devidp"))
    yield issuer
    issuer.stop()


@pytest.fixture
async def verifier(devidp: RunningIssuer) -> AsyncIterator[TokenVerifier]:
    verifier = devidp.verifier()
    yield verifier
    await verifier.aclose()


async def obtain(
    kc: KeycloakOpenID, *, username: str = "", password: str = "", grant_type: str = "password"
) -> dict[str, object]:
    try:
        token: dict[str, object] = await kc.a_token(username, password, grant_type)
        return token
    finally:
        await kc.connection.aclose()


def unverified_claims(token: object) -> dict[str, object]:
    assert isinstance(token, str)
    claims: dict[str, object] = json.loads(base64url_decode(token.split(".")[1]))
    return claims


async def test_demo_caseworker_logs_in_with_keycloak_client_and_token_verifies(
    devidp: RunningIssuer, verifier: TokenVerifier
) -> None:
    token = await obtain(devidp.client(), username="akt-caseworker", password=DEMO_PASSWORD)

    principal = await verifier.verify(str(token["access_token"]))

    demo = next(user for user in USERS if user.username == "akt-caseworker")
    assert principal.tenant_id == tenant_by_code("AKT").id
    assert principal.roles == frozenset({Role.CASEWORKER})
    assert principal.user_id == str(demo.id)
    assert principal.username == "akt-caseworker"
    assert principal.language == demo.language
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 15 * 60


async def test_token_has_keycloaks_claim_layout(devidp: RunningIssuer) -> None:
    token = await obtain(devidp.client(), username="osh-manager", password=DEMO_PASSWORD)
    claims = unverified_claims(token["access_token"])

    assert claims["iss"] == devidp.issuer
    assert claims["aud"] == list(SERVICE_CLIENTS)
    assert claims["azp"] == PUBLIC_CLIENT
    assert claims["typ"] == "Bearer"
    assert claims["preferred_username"] == "osh-manager"
    # Keycloak's layout: the organization's own id, the tenant id as its attribute.
    osh = tenant_by_code("OSH").id
    assert claims["organization"] == {
        "osh": {"id": str(demo_organization_id(osh)), "tirek_tenant_id": [str(osh)]}
    }
    assert demo_organization_id(osh) != osh
    assert "case_manager" in claims["realm_access"]["roles"]  # type: ignore[index]
    assert claims["exp"] == claims["iat"] + 15 * 60  # type: ignore[operator]
    # An id token comes with scope=openid, for the client, never accepted as an access token.
    assert unverified_claims(token["id_token"])["aud"] == PUBLIC_CLIENT


async def test_keycloak_client_reads_discovery_certs_and_realm_key(devidp: RunningIssuer) -> None:
    kc = devidp.client()
    try:
        well_known = await kc.a_well_known()
        certs = await kc.a_certs()
        public_key = await kc.a_public_key()
        token = await kc.a_token(username="nuk-admin", password=DEMO_PASSWORD)
        # python-keycloak's own verification (JWKS from certs) accepts the token as well.
        decoded = await kc.a_decode_token(token["access_token"])
    finally:
        await kc.connection.aclose()

    assert well_known["issuer"] == devidp.issuer
    assert well_known["jwks_uri"] == f"{devidp.issuer}/protocol/openid-connect/certs"
    assert well_known["token_endpoint"] == f"{devidp.issuer}/protocol/openid-connect/token"
    [jwk] = certs["keys"]
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig" and jwk["kid"]
    assert "d" not in jwk, "the JWKS must hold no private key material"
    pem = f"-----BEGIN PUBLIC KEY-----\n{public_key}\n-----END PUBLIC KEY-----\n".encode()
    assert JWK.from_pem(pem)["n"] == jwk["n"]
    assert decoded["preferred_username"] == "nuk-admin"


async def test_service_client_obtains_a_token_with_client_credentials(
    devidp: RunningIssuer, verifier: TokenVerifier
) -> None:
    secret = load_client_secrets(devidp.data_dir)["tirek-referral"]
    token = await obtain(devidp.client("tirek-referral", secret), grant_type="client_credentials")

    principal = await verifier.verify(str(token["access_token"]))
    claims = unverified_claims(token["access_token"])
    assert claims["azp"] == "tirek-referral"
    assert principal.username == "service-account-tirek-referral"
    assert principal.tenant_id == tenant_by_code("CRD").id
    assert principal.roles == frozenset()
    assert "id_token" not in token


async def test_service_client_with_a_wrong_secret_is_refused(devidp: RunningIssuer) -> None:
    with pytest.raises(KeycloakAuthenticationError) as caught:
        await obtain(
            devidp.client("tirek-intake", "not-the-secret"), grant_type="client_credentials"
        )
    assert caught.value.response_code == 401


async def test_public_client_cannot_use_client_credentials(devidp: RunningIssuer) -> None:
    with pytest.raises(KeycloakAuthenticationError) as caught:
        await obtain(devidp.client(), grant_type="client_credentials")
    assert json.loads(caught.value.response_body or b"{}")["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    ("username", "password"),
    [("akt-caseworker", "wrong"), ("akt-caseworker", ""), ("nobody", DEMO_PASSWORD)],
)
async def test_wrong_password_or_unknown_user_is_refused_as_invalid_grant(
    devidp: RunningIssuer, username: str, password: str
) -> None:
    with pytest.raises(KeycloakAuthenticationError) as caught:
        await obtain(devidp.client(), username=username, password=password)
    assert caught.value.response_code == 401
    assert json.loads(caught.value.response_body or b"{}")["error"] == "invalid_grant"


async def test_unsupported_grant_type_is_a_client_error(devidp: RunningIssuer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{devidp.issuer}/protocol/openid-connect/token",
            data={"grant_type": "authorization_code", "client_id": PUBLIC_CLIENT, "code": "x"},
        )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_userinfo_answers_for_a_valid_token_only(devidp: RunningIssuer) -> None:
    kc = devidp.client()
    try:
        token = await kc.a_token(username="jal-caseworker", password=DEMO_PASSWORD)
        info = await kc.a_userinfo(token["access_token"])
        with pytest.raises(KeycloakAuthenticationError):
            await kc.a_userinfo(token["access_token"][:-4] + "AAAA")
    finally:
        await kc.connection.aclose()
    assert isinstance(info, dict)
    assert info["preferred_username"] == "jal-caseworker"


async def test_added_user_logs_in_and_deactivated_user_cannot(
    devidp: RunningIssuer, verifier: TokenVerifier
) -> None:
    username = f"tld-lawyer-{uuid.uuid4().hex[:6]}"
    devidp.users.add(
        DevUser(
            id=str(uuid.uuid4()),
            username=username,
            organization_id=demo_organization_id(tenant_by_code("TLD").id),
            roles=("caseworker", "case_manager"),
            locale="ru",
        ),
        password="a long passphrase",
    )
    token = await obtain(devidp.client(), username=username, password="a long passphrase")
    principal = await verifier.verify(str(token["access_token"]))
    assert principal.tenant_id == tenant_by_code("TLD").id
    assert principal.roles == {Role.CASEWORKER, Role.CASE_MANAGER}

    devidp.users.deactivate(username)

    with pytest.raises(KeycloakAuthenticationError):
        await obtain(devidp.client(), username=username, password="a long passphrase")


def test_user_store_keeps_changes_and_no_clear_passwords(tmp_path: Path) -> None:
    store = UserStore.open(tmp_path)
    assert {user.username for user in store.list()} == {user.username for user in USERS}
    store.update("akt-manager", password="new passphrase", locale="ru", roles=("case_manager",))
    with pytest.raises(ValueError):
        store.add(store.list()[0], password="x")

    reopened = UserStore.open(tmp_path)
    assert reopened.authenticate("AKT-Manager", "new passphrase") is not None
    assert reopened.authenticate("akt-manager", DEMO_PASSWORD) is None
    assert reopened.authenticate("akt-caseworker", DEMO_PASSWORD) is not None
    assert "new passphrase" not in (tmp_path / "users.json").read_text()
    assert (tmp_path / "users.json").stat().st_mode & 0o077 == 0


async def test_keys_secrets_and_users_persist_across_restart(tmp_path: Path) -> None:
    first = RunningIssuer(tmp_path)
    try:
        kc = first.client()
        try:
            certs_before = await kc.a_certs()
            token = await kc.a_token(username="akt-caseworker", password=DEMO_PASSWORD)
        finally:
            await kc.connection.aclose()
        first.users.update("akt-admin", locale="en")
        secrets_before = load_client_secrets(tmp_path)
    finally:
        first.stop()

    second = RunningIssuer(tmp_path)
    try:
        kc = second.client()
        try:
            certs_after = await kc.a_certs()
        finally:
            await kc.connection.aclose()
        assert certs_after == certs_before
        # A token issued before the restart still verifies against the keys served after it.
        keys = JWKSet.from_json(json.dumps(certs_after))
        JWT(jwt=token["access_token"], key=keys, algs=["RS256"], expected_type="JWS")
        assert load_client_secrets(tmp_path) == secrets_before
        assert second.users.get("akt-admin") is not None
        assert second.users.get("akt-admin").locale == "en"  # type: ignore[union-attr]
    finally:
        second.stop()
    for name in ("signing-key.json", "client-secrets.json", "users.json"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, f"{name} is readable by others"


def test_issuer_refuses_to_start_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "TIREK_ENV": "production"}
    data_dir = tmp_path / "idp"
    command = [sys.executable, "-m", "tirek.devidp", "--port", "0", "--data-dir", str(data_dir)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "production" in result.stderr
    assert not data_dir.exists(), "a refused issuer must not create keys"

    monkeypatch.setenv("TIREK_ENV", "production")
    with pytest.raises(ProductionRefused):
        create_app(data_dir)


def test_command_line_issuer_serves_tokens(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TIREK_DEVIDP_PORT": str(port)}
    env.pop("TIREK_ENV", None)
    command = [sys.executable, "-m", "tirek.devidp", "--data-dir", str(tmp_path), "--log-level"]
    process = subprocess.Popen(
        [*command, "warning"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/health/live").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the issuer did not answer within 30 s"
            time.sleep(0.1)
        kc = KeycloakOpenID(server_url=f"{url}/", realm_name="tirek", client_id=PUBLIC_CLIENT)
        token = kc.token("platform-admin", DEMO_PASSWORD)
        assert unverified_claims(token["access_token"])["iss"] == f"{url}/realms/tirek"
    finally:
        process.terminate()
        process.wait(timeout=10)
