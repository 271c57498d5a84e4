"""A tenant's unwrapped keys, cached for a while: :class:`Keyring` and :class:`TenantKeys`.

``await keyring.keys(tenant)`` gives a :class:`TenantKeys` that encrypts and decrypts fields
(:mod:`tirek.crypto.aead`) and computes blind indexes (:mod:`tirek.crypto.blind`) with no
further I/O. A tenant without keys gets them on first use (:func:`store.create_first_keys`,
in the keyring's own committed transaction, so a caller that rolls back cannot lose them).

The cache is refreshed after ``refresh_seconds``, and at once when a row names a data-key
version it has not seen: a rotation in another process (``keys rotate``) reaches this one
within that time. Keys already unwrapped are kept on refresh (they do not change when the
master key does), so a process still configured with only the old master key keeps working
after a re-wrap until it is restarted with the new one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tirek.crypto import store
from tirek.crypto.aead import FieldRef, decrypt_field, encrypt_field, version_of
from tirek.crypto.blind import blind_index
from tirek.crypto.errors import KeyUnavailable
from tirek.crypto.kek import KeyProvider
from tirek.db import UnitOfWork

__all__ = ["CONSORTIUM", "Keyring", "TenantKeys"]

#: The pseudo-tenant whose keys are the consortium's, not one NGO's: its blind-index key gives
#: indexes equal in every NGO of a service's database, for cross-NGO matching only (intake's
#: "a partner NGO may already know this person"). Stored and wrapped like every tenant's keys,
#: so a new master key leaves those indexes valid; never used to encrypt an NGO's data.
CONSORTIUM: Final = uuid.UUID(int=0)


@dataclass(frozen=True)
class TenantKeys:
    """One tenant's keys, unwrapped: every data-key version still stored, and the blind key."""

    tenant: uuid.UUID
    current_version: int
    data: Mapping[int, AESGCM]
    blind: bytes
    loaded_at: float = field(default=0.0, compare=False)

    def encrypt(self, ref: FieldRef, plaintext: str) -> str:
        """``plaintext`` encrypted for ``ref`` with the current data key."""
        self._check(ref)
        return encrypt_field(self.data[self.current_version], self.current_version, ref, plaintext)

    def decrypt(self, ref: FieldRef, token: str) -> str:
        """The plaintext of ``token`` stored at ``ref`` (any version still stored)."""
        self._check(ref)
        version = version_of(token, ref)
        key = self.data.get(version)
        if key is None:
            raise KeyUnavailable(
                f"{ref} is encrypted with data key version {version} of its tenant, which no "
                "longer exists (destroyed by a rotation)"
            )
        return decrypt_field(key, ref, token)

    def blind_index(self, field: str, value: str) -> str:
        return blind_index(self.blind, field=field, value=value)

    def _check(self, ref: FieldRef) -> None:
        if ref.tenant != self.tenant:
            raise ValueError(f"{ref} belongs to another tenant than these keys")


class Keyring:
    """Per-tenant keys of one service, loaded from its ``data_keys`` table and cached."""

    def __init__(
        self,
        provider: KeyProvider,
        sessions: async_sessionmaker[AsyncSession],
        *,
        refresh_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self._sessions = sessions
        self._refresh = refresh_seconds
        self._clock = clock
        self._cache: dict[uuid.UUID, TenantKeys] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    async def keys(self, tenant: uuid.UUID, *, version: int | None = None) -> TenantKeys:
        """``tenant``'s keys; with ``version``, keys that include that data-key version."""
        cached = self._usable(tenant, version)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            cached = self._usable(tenant, version)
            if cached is None:
                cached = await self._load(tenant)
        if version is not None and version not in cached.data:
            raise KeyUnavailable(
                f"data key version {version} of tenant {tenant} no longer exists "
                "(destroyed by a rotation)"
            )
        return cached

    async def consortium(self) -> TenantKeys:
        """The consortium's keys (:data:`CONSORTIUM`): ``blind_index`` on them meets across
        NGOs. Reveal only *which* NGO holds a match, never its rows."""
        return await self.keys(CONSORTIUM)

    def forget(self, tenant: uuid.UUID | None = None) -> None:
        """Drop the cache (of one tenant): the next use reloads from the database."""
        if tenant is None:
            self._cache.clear()
        else:
            self._cache.pop(tenant, None)

    def _usable(self, tenant: uuid.UUID, version: int | None) -> TenantKeys | None:
        cached = self._cache.get(tenant)
        if cached is None or self._clock() - cached.loaded_at > self._refresh:
            return None
        if version is not None and version not in cached.data:
            return None
        return cached

    async def _load(self, tenant: uuid.UUID) -> TenantKeys:
        async with UnitOfWork(self._sessions, tenant) as session:
            stored = await store.stored_keys(session, tenant)
            if not any(k.purpose == store.DATA for k in stored) or not any(
                k.purpose == store.BLIND for k in stored
            ):
                await store.create_first_keys(session, self.provider, tenant)
                stored = await store.stored_keys(session, tenant)
        previous = self._cache.get(tenant)
        data: dict[int, AESGCM] = {}
        blind: bytes | None = None
        current: int | None = None
        for key in stored:
            if key.purpose == store.BLIND:
                blind = previous.blind if previous is not None else key.unwrap(self.provider)
                continue
            if key.purpose != store.DATA:
                continue
            known = previous.data.get(key.version) if previous is not None else None
            data[key.version] = known or AESGCM(key.unwrap(self.provider))
            if key.state == store.ACTIVE:
                current = key.version
        if current is None or blind is None:
            raise KeyUnavailable(f"tenant {tenant} has no active data key or no blind-index key")
        keys = TenantKeys(tenant, current, data, blind, loaded_at=self._clock())
        self._cache[tenant] = keys
        return keys
