"""A tenant's channel settings: defaults, changes, and the opened secret for the dispatcher."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notification.channels.models import ChannelConfig
from notification.channels.schemas import ChannelIn
from notification.tenants.service import ensure_known
from tirek.crypto import KeyProvider, open_sealed, seal

KINDS = ("inbox", "email", "webhook", "telegram")
#: Kinds that work without any tenant configuration.
ON_BY_DEFAULT = frozenset({"inbox", "email"})
_PURPOSE = "notification-channel"


@dataclass(frozen=True)
class ChannelState:
    kind: str
    enabled: bool
    url: str | None
    has_secret: bool


def _context(tenant_id: uuid.UUID, kind: str) -> bytes:
    return f"channel:{tenant_id}:{kind}".encode()


async def states(session: AsyncSession) -> dict[str, ChannelState]:
    """Every kind's effective state for the session's tenant."""
    rows = {row.kind: row for row in (await session.scalars(select(ChannelConfig))).all()}
    result = {}
    for kind in KINDS:
        row = rows.get(kind)
        if row is None:
            result[kind] = ChannelState(kind, kind in ON_BY_DEFAULT, None, False)
        else:
            result[kind] = ChannelState(kind, row.enabled, row.url, row.secret_sealed is not None)
    return result


async def configure(
    session: AsyncSession, keys: KeyProvider, *, tenant_id: uuid.UUID, kind: str, data: ChannelIn
) -> ChannelState:
    await ensure_known(session, tenant_id)
    row = await session.get(ChannelConfig, (tenant_id, kind))
    if row is None:
        row = ChannelConfig(tenant_id=tenant_id, kind=kind)
        session.add(row)
    row.enabled = data.enabled
    row.url = data.url
    if data.secret is not None:
        row.secret_sealed = seal(
            keys,
            tenant=tenant_id,
            purpose=_PURPOSE,
            plaintext=data.secret.encode(),
            context=_context(tenant_id, kind),
        )
    await session.flush()
    return ChannelState(kind, row.enabled, row.url, row.secret_sealed is not None)


async def secrets(
    session: AsyncSession, keys: KeyProvider, *, tenant_id: uuid.UUID
) -> dict[str, str]:
    """Opened secrets of the tenant's channels (for the dispatcher only; never logged)."""
    opened = {}
    for row in (await session.scalars(select(ChannelConfig))).all():
        if row.secret_sealed:
            opened[row.kind] = open_sealed(
                keys,
                tenant=tenant_id,
                purpose=_PURPOSE,
                sealed=row.secret_sealed,
                context=_context(tenant_id, row.kind),
            ).decode()
    return opened
