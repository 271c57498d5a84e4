"""Dependency aliases of referral's views (STYLE.md: ``Annotated`` aliases, one place)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tirek.auth import CurrentPrincipal, Principal, Role, require_roles
from tirek.crypto import KeyProvider, Keyring
from tirek.db import UnitOfWork
from tirek.db.idempotency import IdempotentRequest
from tirek.web import Idempotency


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_now(request: Request) -> datetime:
    """Now, from the app's clock (tests inject one)."""
    return request.app.state.clock()  # type: ignore[no-any-return]


async def get_keys(request: Request) -> KeyProvider:
    keys: KeyProvider = request.app.state.keys
    return keys


#: Who may work on referrals: an NGO's caseworkers and case managers (the state machine
#: decides, per transition, which of them may take it).
Staff = Annotated[Principal, Depends(require_roles(Role.CASEWORKER, Role.CASE_MANAGER))]
#: Any authenticated user (the directory is the consortium's shared address book).
AnyUser = CurrentPrincipal
Now = Annotated[datetime, Depends(get_now)]
Keys = Annotated[KeyProvider, Depends(get_keys)]


async def get_keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


#: Every NGO's data keys (the free text and packages stored encrypted).
KeyringDep = Annotated[Keyring, Depends(get_keyring)]


class Work:
    """Opens the use case's unit of work, scoped to the caller's tenant.

    Views write ``async with work() as session:`` and build their response inside the block,
    so the transaction has committed before the client hears of success. The caller's keys
    are made ready first, so the use case seldom needs a second connection while it holds one.
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
        async with UnitOfWork(
            self._sessions, self._principal.tenant_id, idempotency=self._idempotency
        ) as session:
            yield session


async def _staff_work(
    principal: Staff,
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
    keyring: KeyringDep,
    idempotency: Idempotency,
) -> Work:
    return Work(sessions, principal, keyring, idempotency)


async def _any_work(
    principal: AnyUser,
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
    keyring: KeyringDep,
    idempotency: Idempotency,
) -> Work:
    return Work(sessions, principal, keyring, idempotency)


#: The request's unit of work factory, scoped to the caller's tenant (NGO staff only).
TenantWork = Annotated[Work, Depends(_staff_work)]
#: The same for any authenticated user.
AnyWork = Annotated[Work, Depends(_any_work)]
