"""Dependency aliases of intake's views (STYLE.md: ``Annotated`` aliases, one place)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tirek.auth import Principal, Role, require_roles
from tirek.crypto import KeyProvider, Keyring
from tirek.db import UnitOfWork
from tirek.db.idempotency import IdempotentRequest
from tirek.web import Idempotency


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_today(request: Request) -> date:
    """Today, from the app's clock (tests inject one)."""
    return request.app.state.clock().date()  # type: ignore[no-any-return]


async def get_keys(request: Request) -> KeyProvider:
    keys: KeyProvider = request.app.state.keys
    return keys


async def get_keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


#: The master-key provider (sealing share packages for their trip).
Keys = Annotated[KeyProvider, Depends(get_keys)]
#: Every NGO's data keys and blind-index keys (encryption at rest, search).
KeyringDep = Annotated[Keyring, Depends(get_keyring)]

Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]

#: Who may read and write an NGO's cases: its caseworkers and case managers, nobody else.
CaseWorker = Annotated[Principal, Depends(require_roles(Role.CASEWORKER, Role.CASE_MANAGER))]
CaseManager = Annotated[Principal, Depends(require_roles(Role.CASE_MANAGER))]
#: Who sets the NGO's retention policy: its tenant administrators.
TenantAdmin = Annotated[Principal, Depends(require_roles(Role.TENANT_ADMIN))]
#: Who reads the retention policy and what it will erase: administrators and case managers.
RetentionReader = Annotated[Principal, Depends(require_roles(Role.TENANT_ADMIN, Role.CASE_MANAGER))]
Today = Annotated[date, Depends(get_today)]


class Work:
    """Opens the use case's unit of work, scoped to the caller's tenant.

    Views write ``async with work() as session:`` and build their response inside the block,
    so the transaction has committed before the client hears of success. The NGO's keys are
    made ready first, on a connection of their own: a use case never waits for a second
    connection while it holds one (a pool of N would otherwise jam under N requests).
    A request's ``Idempotency-Key`` is claimed by that transaction, which commits with the
    stored answer.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        keyring: Keyring,
        idempotency: IdempotentRequest | None = None,
    ) -> None:
        self._sessions = sessions
        self._principal = principal
        self._keyring = keyring
        self._idempotency = idempotency

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        await self._keyring.keys(self._principal.tenant_id)
        await self._keyring.consortium()  # partner hints on registration and update
        async with UnitOfWork(
            self._sessions, self._principal.tenant_id, idempotency=self._idempotency
        ) as session:
            yield session


async def _work(
    principal: CaseWorker,
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
    keyring: Annotated[Keyring, Depends(get_keyring)],
    idempotency: Idempotency,
) -> Work:
    return Work(sessions, principal, keyring, idempotency)


#: The request's unit of work factory, scoped to the caller's tenant.
TenantWork = Annotated[Work, Depends(_work)]
