"""One transaction per use case, scoped to one tenant.

A use case opens a :class:`UnitOfWork`; the domain rows and the outbox rows are written in the
same session; leaving the block commits once (or rolls back on an exception). The tenant is
set for the transaction only, with a bound parameter, so it can never leak to the next user of
a pooled connection and is never formatted into SQL (PITFALLS.md). Row-level security policies
read it with ``current_setting('app.tenant_id')``.
"""

from __future__ import annotations

import uuid
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant_id, true)")


async def set_tenant(session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
    """Scope the session's current transaction to ``tenant_id`` (``None``: no tenant at all)."""
    await session.execute(_SET_TENANT, {"tenant_id": str(tenant_id) if tenant_id else ""})


class UnitOfWork:
    """``async with UnitOfWork(sessions, tenant_id) as session:`` — one tenant-scoped transaction."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID | None
    ) -> None:
        self._sessions = sessions
        self._tenant_id = tenant_id
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> AsyncSession:
        session = self._sessions()
        await session.begin()
        self._session = session
        if self._tenant_id is not None:
            await set_tenant(session, self._tenant_id)
        return session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        assert session is not None
        try:
            if exc_type is None:
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()
            self._session = None
