"""Dependency aliases of intake's views (STYLE.md: ``Annotated`` aliases, one place)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tirek.auth import Principal, Role, require_roles
from tirek.crypto import KeyProvider
from tirek.db import UnitOfWork
from tirek.db.idempotency import IdempotentRequest
from tirek.web import Idempotency


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


def get_today(request: Request) -> date:
    """Today, from the app's clock (tests inject one)."""
    return request.app.state.clock().date()  # type: ignore[no-any-return]


def get_keys(request: Request) -> KeyProvider:
    keys: KeyProvider = request.app.state.keys
    return keys


#: The key provider for sealing and blind indexes.
Keys = Annotated[KeyProvider, Depends(get_keys)]

#: Who may read and write an NGO's cases: its caseworkers and case managers, nobody else.
CaseWorker = Annotated[Principal, Depends(require_roles(Role.CASEWORKER, Role.CASE_MANAGER))]
CaseManager = Annotated[Principal, Depends(require_roles(Role.CASE_MANAGER))]
Today = Annotated[date, Depends(get_today)]


class Work:
    """Opens the use case's unit of work, scoped to the caller's tenant.

    Views write ``async with work() as session:`` and build their response inside the block,
    so the transaction has committed before the client hears of success. A request's
    ``Idempotency-Key`` is claimed by that transaction, which commits with the stored answer.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        idempotency: IdempotentRequest | None = None,
    ) -> None:
        self._sessions = sessions
        self._principal = principal
        self._idempotency = idempotency

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self._principal.tenant_id, idempotency=self._idempotency)


def _work(
    principal: CaseWorker,
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
    idempotency: Idempotency,
) -> Work:
    return Work(sessions, principal, idempotency)


#: The request's unit of work factory, scoped to the caller's tenant.
TenantWork = Annotated[Work, Depends(_work)]
