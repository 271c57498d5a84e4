"""Dependency aliases of admin's views (STYLE.md: ``Annotated`` aliases, one place)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tirek.auth import Principal, Role, require_roles
from tirek.db import UnitOfWork
from tirek.db.idempotency import IdempotentRequest
from tirek.messaging.naming import Naming
from tirek.web import Idempotency


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_now(request: Request) -> datetime:
    """Now, from the app's clock (tests inject one)."""
    return request.app.state.clock()  # type: ignore[no-any-return]


async def get_jetstream(request: Request) -> JetStreamContext:
    return request.app.state.broker.connection.jetstream()  # type: ignore[no-any-return]


async def get_naming(request: Request) -> Naming:
    naming: Naming = request.app.state.naming
    return naming


#: The consortium's platform administrators: everything admin does.
PlatformAdmin = Annotated[Principal, Depends(require_roles(Role.PLATFORM_ADMIN))]
#: Who may read tenants: platform administrators (all), tenant administrators (their own).
TenantReader = Annotated[Principal, Depends(require_roles(Role.PLATFORM_ADMIN, Role.TENANT_ADMIN))]
Now = Annotated[datetime, Depends(get_now)]
JetStream = Annotated[JetStreamContext, Depends(get_jetstream)]
Names = Annotated[Naming, Depends(get_naming)]


class Work:
    """Opens the use case's unit of work.

    Admin's tables are the platform's (no tenant column, no row-level security), so no tenant
    is set. Views write ``async with work() as session:`` and build their response inside the
    block, so the transaction has committed before the client hears of success. A request's
    ``Idempotency-Key`` is claimed by that transaction, which commits with the stored answer
    (for users, whose effect is in the identity provider, the key guards the retry only as far
    as the provider refuses a second user of one name).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        idempotency: IdempotentRequest | None = None,
    ) -> None:
        self._sessions = sessions
        self._idempotency = idempotency

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, None, idempotency=self._idempotency)


async def _work(
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
    idempotency: Idempotency,
) -> Work:
    return Work(sessions, idempotency)


#: The request's unit of work factory.
AdminWork = Annotated[Work, Depends(_work)]
