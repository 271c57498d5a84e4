"""Admin's identity adapter and the realm layout, proven with the same assertions against both
identity providers: the development issuer always, and Keycloak itself (a testcontainers
container importing ``deploy/keycloak/tirek-realm.json``, the image of ``deploy/compose.yaml``)
when a Docker daemon answers — without one that half skips and says why.

What is proven: the adapter creates an organization that carries the tenant id (the provider
picks the organization's own id) and a user in it; that user's tokens are accepted by every
service's verifier with the tenant id and roles; a disabled organization (suspension) yields
no token any service accepts, and enabling it restores access; an organization with the
tenant's alias made by hand is adopted, one that belongs to another tenant never is; removing
the organization (offboarding) removes its users.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakError

from admin.identity.keycloak import KeycloakIdentityProvider
from admin.identity.provider import NewUser, Organization, OrganizationConflict
from admin.settings import AdminSettings
from intake.settings import IntakeSettings
from notification.settings import NotificationSettings
from referral.settings import ReferralSettings
from reporting.settings import ReportingSettings
from tirek.auth import InvalidToken, Principal, Role, verifier_from_settings

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "deploy" / "keycloak" / "tirek-realm.json"
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
SERVICE_SETTINGS = (
    IntakeSettings,
    ReferralSettings,
    NotificationSettings,
    ReportingSettings,
    AdminSettings,
)
#: Long enough for the realm's password policy (length 12, not the username).
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Backend:
    name: str
    #: The provider's base URL, ``…/`` before ``realms/``.
    server_url: str
    admin_secret: str

    @property
    def issuer(self) -> str:
        return f"{self.server_url}realms/tirek"

    def identity(self) -> KeycloakIdentityProvider:
        return KeycloakIdentityProvider(
            server_url=self.server_url,
            realm="tirek",
            client_id="tirek-admin",
            client_secret=self.admin_secret,
        )


def docker_unavailable() -> str | None:
    """Why no container can run here, or ``None`` when a Docker daemon answers a ping (a
    ``docker`` binary alone proves nothing)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"no Docker daemon answers ({type(exc).__name__})"
    return None


def keycloak_image() -> str:
    """The Keycloak image the compose file runs: the test proves the deployed version."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return str(compose["services"]["keycloak"]["image"])


@pytest.fixture(
    scope="module",
    params=["development-issuer", pytest.param("keycloak", marks=pytest.mark.docker)],
)
def backend(
    request: pytest.FixtureRequest, devidp_url: str, admin_client_secret: str
) -> Iterator[Backend]:
    if request.param == "development-issuer":
        yield Backend("development-issuer", devidp_url, admin_client_secret)
        return
    reason = docker_unavailable()
    if reason is not None:
        pytest.skip(f"Keycloak in a container needs Docker: {reason}")
    from testcontainers.community.keycloak import KeycloakContainer

    client_secrets = {
        f"TIREK_KEYCLOAK_SECRET_{settings.model_fields['service_name'].default.upper()}": (
            secrets.token_urlsafe(24)
        )
        for settings in SERVICE_SETTINGS
    }
    container = KeycloakContainer(keycloak_image()).with_realm_import_file(str(REALM_FILE))
    for name, value in client_secrets.items():
        # The realm export reads each client's secret from the environment at import.
        container.with_env(name, value)
    with container:
        yield Backend(
            "keycloak",
            container.get_url().rstrip("/") + "/",
            client_secrets["TIREK_KEYCLOAK_SECRET_ADMIN"],
        )


@pytest.fixture
async def identity(backend: Backend) -> AsyncIterator[KeycloakIdentityProvider]:
    provider = backend.identity()
    yield provider
    await provider.close()


def new_tenant() -> Organization:
    tag = secrets.token_hex(3)
    return Organization(tenant_id=uuid.uuid4(), alias=f"t{tag}", name=f"Test NGO {tag} [T{tag}]")


def new_caseworker() -> NewUser:
    tag = secrets.token_hex(4)
    # Email and names: Keycloak's user profile wants them before a user may log in.
    return NewUser(
        username=f"cw-{tag}",
        email=f"cw-{tag}@example.org",
        first_name="Айгерим",
        last_name="Test",
        roles=("caseworker",),
        password=PASSWORD,
    )


async def password_token(backend: Backend, username: str) -> str:
    oidc = KeycloakOpenID(server_url=backend.server_url, realm_name="tirek", client_id="tirek-web")
    try:
        return str((await oidc.a_token(username, PASSWORD))["access_token"])
    finally:
        await oidc.connection.aclose()


async def accepted_by_every_service(backend: Backend, token: str) -> list[Principal]:
    """The principal each service's own verifier makes of ``token`` (its audience, issuer)."""
    principals = []
    for settings_class in SERVICE_SETTINGS:
        verifier = verifier_from_settings(settings_class(oidc_issuer=backend.issuer))
        try:
            principals.append(await verifier.verify(token))
        finally:
            await verifier.aclose()
    return principals


async def refused_by_every_service(backend: Backend, username: str) -> bool:
    """True when the user gets no token, or one that no service accepts."""
    try:
        token = await password_token(backend, username)
    except KeycloakAuthenticationError:
        return True
    for settings_class in SERVICE_SETTINGS:
        verifier = verifier_from_settings(settings_class(oidc_issuer=backend.issuer))
        try:
            await verifier.verify(token)
            return False
        except InvalidToken:
            pass
        finally:
            await verifier.aclose()
    return True


async def test_the_adapter_creates_an_organization_carrying_the_tenant_id_and_a_user_in_it(
    backend: Backend, identity: KeycloakIdentityProvider
) -> None:
    tenant = new_tenant()

    organization_id = await identity.ensure_organization(tenant)
    user = await identity.create_user(tenant, new_caseworker())

    assert organization_id != str(tenant.tenant_id), "the provider names its organizations"
    # A second adapter (another admin replica, or after a restart) finds it by the tenant id.
    other = backend.identity()
    try:
        assert await other.ensure_organization(tenant) == organization_id
    finally:
        await other.close()
    assert user.roles == ("caseworker",)
    assert user.enabled
    assert [u.username for u in await identity.list_users(tenant)] == [user.username]


async def test_a_new_users_token_is_accepted_by_every_service_with_the_tenant_id(
    backend: Backend, identity: KeycloakIdentityProvider
) -> None:
    tenant = new_tenant()
    user = await identity.create_user(tenant, new_caseworker())

    principals = await accepted_by_every_service(
        backend, await password_token(backend, user.username)
    )

    assert len(principals) == len(SERVICE_SETTINGS)
    for principal in principals:
        assert principal.tenant_id == tenant.tenant_id
        assert principal.roles == frozenset({Role.CASEWORKER})
        assert principal.username == user.username


async def test_a_disabled_organization_yields_no_accepted_token_until_enabled_again(
    backend: Backend, identity: KeycloakIdentityProvider
) -> None:
    tenant = new_tenant()
    user = await identity.create_user(tenant, new_caseworker())

    await identity.set_enabled(tenant, False)
    suspended = await refused_by_every_service(backend, user.username)
    await identity.set_enabled(tenant, False)  # twice: nothing more happens
    await identity.set_enabled(tenant, True)
    restored = await accepted_by_every_service(
        backend, await password_token(backend, user.username)
    )

    assert suspended, f"{backend.name} gave a disabled organization's user a usable token"
    assert {p.tenant_id for p in restored} == {tenant.tenant_id}


async def test_an_organization_with_the_alias_of_another_tenant_is_never_adopted(
    identity: KeycloakIdentityProvider,
) -> None:
    first = new_tenant()
    await identity.ensure_organization(first)
    impostor = Organization(tenant_id=uuid.uuid4(), alias=first.alias, name=f"{first.name} 2")

    with pytest.raises(OrganizationConflict):
        await identity.ensure_organization(impostor)


async def test_an_organization_made_by_hand_with_the_tenants_alias_is_adopted(
    backend: Backend, identity: KeycloakIdentityProvider
) -> None:
    tenant = new_tenant()
    console = KeycloakAdmin(
        server_url=backend.server_url,
        realm_name="tirek",
        client_id="tirek-admin",
        client_secret_key=backend.admin_secret,
    )
    try:
        # What an operator creates in the console: no tenant id on it.
        made = await console.a_create_organization(
            {"name": tenant.name, "alias": tenant.alias, "enabled": True}
        )
    finally:
        await console.connection.aclose()

    adopted = await identity.ensure_organization(tenant)
    user = await identity.create_user(tenant, new_caseworker())
    principals = await accepted_by_every_service(
        backend, await password_token(backend, user.username)
    )

    assert adopted == made
    assert {p.tenant_id for p in principals} == {tenant.tenant_id}


async def test_removing_the_organization_removes_its_users(
    backend: Backend, identity: KeycloakIdentityProvider
) -> None:
    tenant = new_tenant()
    user = await identity.create_user(tenant, new_caseworker())

    removed = await identity.remove(tenant)
    again = await identity.remove(tenant)
    await identity.set_enabled(tenant, True)  # no organization: nothing to enable

    assert (removed, again) == (1, 0)
    assert await identity.list_users(tenant) == []
    with pytest.raises(KeycloakError):
        await password_token(backend, user.username)
