"""What every service's offboarding test needs: NGOs of their own (an organization and users
in the development issuer, created through admin's identity adapter, so that no other test's
demo NGO is erased), the admin events that drive offboarding, and a count of every row of an
NGO in a database, found from the schema (not from a list a test would have to keep current).
"""

from __future__ import annotations

import json
import secrets
import string
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nats
from keycloak import KeycloakOpenID
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from admin.identity.keycloak import KeycloakIdentityProvider
from admin.identity.provider import NewUser, Organization
from tirek.events import Contract, Envelope
from tirek.events.admin import TenantOnboarded
from tirek.messaging.naming import Naming
from tirek.testing.waiting import eventually

PASSWORD = "a long passphrase for tests"
DEADLINE = 30.0


@dataclass(frozen=True)
class Ngo:
    id: uuid.UUID
    code: str
    country: str
    #: Authorization headers by role name (caseworker, case_manager, tenant_admin).
    headers: dict[str, dict[str, str]]


def admin_client_secret(server_dir: Path) -> str:
    """The development issuer's ``tirek-admin`` secret (kept in the plugin's server dir)."""
    secrets_file = server_dir / "devidp" / "client-secrets.json"
    return str(json.loads(secrets_file.read_text(encoding="utf-8"))["tirek-admin"])


async def new_ngo(
    devidp_url: str,
    server_dir: Path,
    *,
    country: str = "KZ",
    roles: Iterable[str] = ("caseworker", "case_manager", "tenant_admin"),
) -> Ngo:
    """A fresh NGO: its organization and one user per role in the development issuer."""
    code = "".join(secrets.choice(string.ascii_uppercase) for _ in range(5))
    tenant_id = uuid.uuid4()
    organization = Organization(tenant_id=tenant_id, alias=code.lower(), name=f"Test {code}")
    identity = KeycloakIdentityProvider(
        server_url=devidp_url,
        realm="tirek",
        client_id="tirek-admin",
        client_secret=admin_client_secret(server_dir),
    )
    headers: dict[str, dict[str, str]] = {}
    try:
        for role in roles:
            username = f"{code.lower()}-{role.replace('_', '-')}"
            await identity.create_user(
                organization,
                NewUser(
                    username=username,
                    email="",
                    first_name="",
                    last_name="",
                    roles=(role,),
                    password=PASSWORD,
                ),
            )
            oidc = KeycloakOpenID(server_url=devidp_url, realm_name="tirek", client_id="tirek-web")
            try:
                token = (await oidc.a_token(username, PASSWORD))["access_token"]
            finally:
                await oidc.connection.aclose()
            headers[role] = {"Authorization": f"Bearer {token}"}
    finally:
        await identity.close()
    return Ngo(tenant_id, code, country, headers)


def onboarded(ngo: Ngo) -> TenantOnboarded:
    return TenantOnboarded(
        tenant_id=ngo.id,
        code=ngo.code,
        country=ngo.country,
        region="Test region",
        names={"en": f"Test NGO {ngo.code}"},
        languages=["ru"],
        services_offered=["reception", "legal_aid", "return"],
        service_areas=["Test city"],
    )


async def publish(nats_url: str, naming: Naming, event: Contract) -> Envelope:
    """Publish an admin event onto the ADMIN stream as admin's outbox relay does."""
    tenant_id = getattr(event, "tenant_id", None) or uuid.uuid4()
    envelope = Envelope.wrap(event, tenant=tenant_id, subject=str(tenant_id))
    await redeliver(nats_url, naming, envelope)
    return envelope


async def redeliver(nats_url: str, naming: Naming, envelope: Envelope) -> None:
    """Publish ``envelope`` (again): a new message id, so the stream keeps the copy and the
    consumer's inbox is what must drop it."""
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(
            naming.subject(envelope.subject_name),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": f"{envelope.id}.{uuid.uuid4()}"},
        )
    finally:
        await nc.close()


async def consumed(nats_url: str, naming: Naming, durable: str) -> None:
    """Wait until ``durable`` on ADMIN has acknowledged everything the stream holds."""

    async def done() -> bool:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().consumer_info(
                naming.stream("ADMIN"), naming.durable(durable)
            )
        finally:
            await nc.close()
        return info.num_pending == 0 and info.num_ack_pending == 0

    await eventually(done, f"{durable} consumed every admin event")


async def rows_of(
    engine: AsyncEngine,
    tenant_id: uuid.UUID,
    owner_columns: Iterable[str] = ("tenant_id",),
    table_owners: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, int]:
    """Rows naming ``tenant_id`` in an owner column, per table of the ``public`` schema
    (read as a superuser: every tenant's rows). Tables with no such row are left out."""
    owners = list(owner_columns)
    async with engine.connect() as conn:
        columns = (
            await conn.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND data_type = 'uuid'"
                )
            )
        ).all()
        found: dict[str, int] = {}
        for table, column in columns:
            if column not in owners and column not in (table_owners or {}).get(table, ()):
                continue
            count = int(
                (
                    await conn.execute(
                        text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :t'),
                        {"t": tenant_id},
                    )
                ).scalar_one()
            )
            if count:
                found[f"{table}.{column}"] = count
    return found
