"""Dependency aliases of notification's views (one place, ``Annotated``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.rules.cache import PlanningCache
from tirek.auth import CurrentPrincipal, Principal, Role, require_roles
from tirek.crypto import KeyProvider
from tirek.db import UnitOfWork
from tirek.db.idempotency import IdempotentRequest
from tirek.web import Idempotency


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_keys(request: Request) -> KeyProvider:
    keys: KeyProvider = request.app.state.keys
    return keys


async def get_planning_cache(request: Request) -> PlanningCache:
    cache: PlanningCache = request.app.state.planner.cache
    return cache


#: An NGO's administrator: manages its channels, recipients, rules; sees its deliveries.
TenantAdmin = Annotated[Principal, Depends(require_roles(Role.TENANT_ADMIN))]
Keys = Annotated[KeyProvider, Depends(get_keys)]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
#: What planning keeps in memory: a view that changes a tenant's setup forgets it on commit.
Planning = Annotated[PlanningCache, Depends(get_planning_cache)]


class Work:
    """Opens the use case's unit of work, scoped to the caller's tenant (it claims the
    request's ``Idempotency-Key``, if any, and commits with the stored answer)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        idempotency: IdempotentRequest | None = None,
    ) -> None:
        self._sessions = sessions
        self.principal = principal
        self._idempotency = idempotency

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self.principal.tenant_id, idempotency=self._idempotency)


async def _admin_work(principal: TenantAdmin, sessions: Sessions, idempotency: Idempotency) -> Work:
    return Work(sessions, principal, idempotency)


async def _user_work(
    principal: CurrentPrincipal, sessions: Sessions, idempotency: Idempotency
) -> Work:
    return Work(sessions, principal, idempotency)


#: Unit of work of a tenant administrator's request.
AdminWork = Annotated[Work, Depends(_admin_work)]
#: Unit of work of any signed-in user (their own inbox).
UserWork = Annotated[Work, Depends(_user_work)]
