"""One transaction per use case, scoped to one tenant.

A use case opens a :class:`UnitOfWork`; the domain rows and the outbox rows are written in the
same session; leaving the block commits once (or rolls back on an exception). The tenant is
set for the transaction only, with a bound parameter, so it can never leak to the next user of
a pooled connection and is never formatted into SQL (PITFALLS.md). Row-level security policies
read it with ``current_setting('app.tenant_id')``.

Given an :class:`~tirek.db.idempotency.IdempotentRequest` (a request's ``Idempotency-Key``),
the unit of work claims the key first in its transaction and, on success, leaves the commit to
the HTTP layer, which stores the answer in the same transaction (:mod:`tirek.db.idempotency`).
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from tirek.db.idempotency import IdempotentRequest

_SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant_id, true)")


async def set_tenant(session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
    """Scope the session's current transaction to ``tenant_id`` (``None``: no tenant at all)."""
    await session.execute(_SET_TENANT, {"tenant_id": str(tenant_id) if tenant_id else ""})


class UnitOfWork:
    """``async with UnitOfWork(sessions, tenant_id) as session:`` — one tenant-scoped transaction.

    With ``idempotency`` (a request's key, not yet claimed): the key is claimed on entry, which
    may raise instead of entering (:class:`~tirek.db.idempotency.StoredResult`, ...); on a
    clean exit the transaction stays open, held by ``idempotency`` until the answer is stored.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tenant_id: uuid.UUID | None,
        *,
        idempotency: IdempotentRequest | None = None,
    ) -> None:
        self._sessions = sessions
        self._tenant_id = tenant_id
        self._session: AsyncSession | None = None
        self._idempotency = idempotency
        self._claimed = False

    async def __aenter__(self) -> AsyncSession:
        session = self._sessions()
        try:
            await session.begin()
            if self._tenant_id is not None:
                await set_tenant(session, self._tenant_id)
            # Only the request's first unit of work claims its key; later ones are plain.
            if self._idempotency is not None and self._idempotency.claimable:
                await self._idempotency.claim(session, current_tenant=self._tenant_id)
                self._claimed = True
        except BaseException:
            await session.rollback()
            await session.close()
            raise
        self._session = session
        return session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        assert session is not None
        self._session = None
        if self._claimed and self._idempotency is not None:
            self._claimed = False
            if exc_type is None:
                self._idempotency.hold(session)  # committed with the stored answer
                return
            self._idempotency.release()
        try:
            if exc_type is None:
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()
