"""Re-encrypting a tenant's rows and re-wrapping its keys, online and resumable.

Used by each service's ``keys`` command (``python -m intake keys rotate --tenant ...``); the
service names its sealed models (:class:`Resealable`) and this module does the rest:

- :func:`rotate_tenant` — a new data key for one tenant; the old one turns ``retiring``; after
  ``settle`` seconds (every running process has refreshed its keyring and writes with the new
  key) the rows still under an older key, or still plaintext, are re-encrypted in small
  batches, each its own transaction (``FOR UPDATE SKIP LOCKED``: requests are never blocked
  for long, and a row a request holds is taken on the next pass); then the retiring key is
  destroyed, and nothing encrypted with it can be read again. Interrupted, it resumes where
  it stopped: the rotation's state is the ``data_keys`` rows and each row's ``key_version``.
- :func:`reseal_tenant` — the re-encryption pass alone (also what seals rows written before
  encryption existed).
- :func:`rewrap_tenants` — every stored key re-wrapped under the current master key.
- :class:`SealedStore` — one service's sealed models and key owners, with the four ``keys``
  commands over them (:mod:`tirek.crypto.commands` is their command line).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import lazyload

from tirek.crypto import store
from tirek.crypto.kek import KeyProvider
from tirek.crypto.keyring import Keyring, TenantKeys
from tirek.crypto.records import open_record, seal_record
from tirek.db import UnitOfWork

__all__ = [
    "Resealable",
    "RotationReport",
    "SealedStore",
    "reseal_tenant",
    "rewrap_tenants",
    "rotate_tenant",
]

_log = logging.getLogger(__name__)

Reseal = Callable[[AsyncSession, object, TenantKeys], Awaitable[None]]


async def _open_and_seal(session: AsyncSession, record: object, keys: TenantKeys) -> None:
    open_record(record, keys)
    seal_record(record, keys)


@dataclass(frozen=True)
class Resealable:
    """A sealed model, and how to re-encrypt one of its rows (default: open, then seal)."""

    model: type
    reseal: Reseal = field(default=_open_and_seal)


@dataclass
class RotationReport:
    tenant: uuid.UUID
    version: int
    created: bool
    resealed: int
    destroyed: list[int]


def _behind(model: type, tenant: uuid.UUID, version: int, *, plaintext_only: bool) -> list[Any]:
    owner = getattr(model, model.__key_owner__)  # type: ignore[attr-defined]
    column = model.key_version  # type: ignore[attr-defined]
    stale = column.is_(None) if plaintext_only else or_(column.is_(None), column != version)
    return [owner == tenant, stale]


async def _remaining(
    sessions: async_sessionmaker[AsyncSession],
    tenant: uuid.UUID,
    models: Sequence[Resealable],
    version: int,
    *,
    plaintext_only: bool,
) -> int:
    async with UnitOfWork(sessions, tenant) as session:
        total = 0
        for spec in models:
            where = _behind(spec.model, tenant, version, plaintext_only=plaintext_only)
            total += int(
                await session.scalar(select(func.count()).select_from(spec.model).where(*where))
                or 0
            )
        return total


async def reseal_tenant(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    tenant: uuid.UUID,
    models: Sequence[Resealable],
    *,
    batch: int = 200,
    plaintext_only: bool = False,
    pause: float = 0.2,
) -> int:
    """Re-encrypt ``tenant``'s rows not under its current data key (with ``plaintext_only``,
    only rows never encrypted); returns how many. Repeats until none is left."""
    keyring.forget(tenant)
    keys = await keyring.keys(tenant)
    done = 0
    while True:
        for spec in models:
            while True:
                async with UnitOfWork(sessions, tenant) as session:
                    where = _behind(
                        spec.model, tenant, keys.current_version, plaintext_only=plaintext_only
                    )
                    rows: list[Any] = list(
                        (
                            await session.scalars(
                                select(spec.model)
                                .where(*where)
                                .options(lazyload("*"))
                                .limit(batch)
                                .with_for_update(skip_locked=True)
                            )
                        ).unique()
                    )
                    for row in rows:
                        await spec.reseal(session, row, keys)
                done += len(rows)
                if len(rows) < batch:
                    break
        left = await _remaining(
            sessions, tenant, models, keys.current_version, plaintext_only=plaintext_only
        )
        if not left:
            return done
        await asyncio.sleep(pause)  # rows other transactions held: take them on the next pass


async def rotate_tenant(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    tenant: uuid.UUID,
    models: Sequence[Resealable],
    *,
    settle: float,
    batch: int = 200,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RotationReport:
    """Re-encrypt ``tenant``'s data under a new data key and destroy the old one (see module)."""
    await keyring.keys(tenant)  # a tenant without keys gets its first ones
    async with UnitOfWork(sessions, tenant) as session:
        version, created_at, created = await store.begin_rotation(session, keyring.provider, tenant)
    keyring.forget(tenant)
    waited = (datetime.now(UTC) - created_at).total_seconds()
    if waited < settle:
        await sleep(settle - waited)
    resealed = await reseal_tenant(sessions, keyring, tenant, models, batch=batch)
    async with UnitOfWork(sessions, tenant) as session:
        destroyed = await store.destroy_retiring(session, tenant)
    keyring.forget(tenant)
    return RotationReport(tenant, version, created, resealed, destroyed)


async def rewrap_tenants(
    sessions: async_sessionmaker[AsyncSession], provider: KeyProvider, tenants: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Re-wrap every key of every tenant under the provider's current master key; how many
    per tenant (each tenant in its own short transaction)."""
    done: dict[uuid.UUID, int] = {}
    for tenant in tenants:
        async with UnitOfWork(sessions, tenant) as session:
            done[tenant] = await store.rewrap(session, provider, tenant)
    return done


async def master_keys_in_use(
    sessions: async_sessionmaker[AsyncSession], tenants: Iterable[uuid.UUID]
) -> dict[str, int]:
    """How many stored keys each master key wraps (an old one at 0 can be retired)."""
    used: dict[str, int] = {}
    for tenant in tenants:
        async with UnitOfWork(sessions, tenant) as session:
            for key in await store.stored_keys(session, tenant):
                used[key.wrapped.kek_id] = used.get(key.wrapped.kek_id, 0) + 1
    return used


Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class SealedStore:
    """What one service seals and whose keys it keeps, and the ``keys`` commands over them.

    ``resealables`` names the service's sealed models (given the keyring, for models whose
    re-sealing needs it); ``tenants`` lists the NGOs whose rows it holds; ``key_owners`` those
    whose keys are stored (the tenants, and e.g. intake's consortium pseudo-tenant).
    """

    resealables: Callable[[Keyring], Sequence[Resealable]]
    tenants: Callable[[Sessions], Awaitable[list[uuid.UUID]]]
    key_owners: Callable[[Sessions], Awaitable[list[uuid.UUID]]] | None = None

    async def _owners(self, sessions: Sessions) -> list[uuid.UUID]:
        return await (self.key_owners or self.tenants)(sessions)

    async def seal_plaintext(
        self, sessions: Sessions, keyring: Keyring, *, batch: int = 200
    ) -> int:
        """Encrypt every row written before encryption at rest, for every NGO; how many."""
        done = 0
        for tenant in await self.tenants(sessions):
            done += await reseal_tenant(
                sessions,
                keyring,
                tenant,
                self.resealables(keyring),
                batch=batch,
                plaintext_only=True,
            )
        return done

    async def rotate(
        self,
        sessions: Sessions,
        keyring: Keyring,
        tenant: uuid.UUID,
        *,
        settle: float,
        batch: int = 200,
    ) -> RotationReport:
        """Re-encrypt one NGO's data under a new data key, then destroy the old one."""
        return await rotate_tenant(
            sessions, keyring, tenant, self.resealables(keyring), settle=settle, batch=batch
        )

    async def seal_plaintext_at_start(self, sessions: Sessions, keyring: Keyring) -> None:
        """:meth:`seal_plaintext` as a service runs it when it starts: a failure is logged and
        the service serves anyway (the ``keys seal-plaintext`` command can be run by hand)."""
        try:
            sealed = await self.seal_plaintext(sessions, keyring)
        except Exception:
            _log.exception("sealing rows written before encryption failed")
        else:
            if sealed:
                _log.info("rows written before encryption sealed", extra={"rows": sealed})

    async def rewrap(self, sessions: Sessions, keyring: Keyring) -> dict[uuid.UUID, int]:
        """Every stored key re-wrapped under the current master key; how many per owner."""
        return await rewrap_tenants(sessions, keyring.provider, await self._owners(sessions))

    async def status(self, sessions: Sessions) -> dict[str, int]:
        """How many stored keys each master key wraps (one at 0 can be retired)."""
        return await master_keys_in_use(sessions, await self._owners(sessions))
