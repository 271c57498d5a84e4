"""Dependency aliases of reporting's views (STYLE.md: ``Annotated`` aliases, one place)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reporting.projections.projector import writing_all_tenants
from reporting.reports.scope import CONSORTIUM_ROLES, NGO_ROLES, Filters, Scope
from tirek.auth import Principal, Role, require_roles
from tirek.db import UnitOfWork
from tirek.web.params import IsoDate
from tirek.web.problems import BadRequest, Forbidden

#: Anyone who may read a report at all: an NGO's staff (own NGO) and the consortium's roles.
ReportReader = Annotated[Principal, Depends(require_roles(*NGO_ROLES, *CONSORTIUM_ROLES))]
PlatformAdmin = Annotated[Principal, Depends(require_roles(Role.PLATFORM_ADMIN))]


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_now(request: Request) -> datetime:
    """Now, from the app's clock (tests inject one)."""
    return request.app.state.clock()  # type: ignore[no-any-return]


Now = Annotated[datetime, Depends(get_now)]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]


async def get_scope(principal: ReportReader, request: Request) -> Scope:
    return Scope.of(principal, request.app.state.settings.suppression_threshold)


CurrentScope = Annotated[Scope, Depends(get_scope)]


async def get_filters(
    scope: CurrentScope,
    date_from: Annotated[
        IsoDate | None, Query(alias="from", description="first day, inclusive")
    ] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to", description="last day, inclusive")] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    ngo: Annotated[uuid.UUID | None, Query(description="an NGO's tenant id")] = None,
    project: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
) -> Filters:
    if date_from and date_to and date_from > date_to:
        raise BadRequest("`from` is after `to`.", title="Empty period")
    if scope.tenant_id is not None and ngo is not None and ngo != scope.tenant_id:
        raise Forbidden("An NGO's staff see their own NGO's figures only.")
    return Filters(date_from, date_to, country, ngo, project)


ReportFilters = Annotated[Filters, Depends(get_filters)]


_REPORT_MEMORY = text("SELECT set_config('work_mem', '64MB', true)")


class Reading:
    """Opens a read-only unit of work for the scope: the NGO's tenant, or all (suppressed)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], scope: Scope) -> None:
        self._sessions = sessions
        self._scope = scope

    async def __aenter__(self) -> AsyncSession:
        self._work = UnitOfWork(self._sessions, self._scope.tenant_id)
        session = await self._work.__aenter__()
        if self._scope.tenant_id is None:
            await writing_all_tenants(session)
        # Distinct people are counted over the records themselves: sort and hash them in
        # memory (the server's 4 MB default spilled 130,000 person ids to disk).
        await session.execute(_REPORT_MEMORY)
        return session

    async def __aexit__(self, *exc: object) -> None:
        await self._work.__aexit__(*exc)  # type: ignore[arg-type]


async def get_reading(sessions: Sessions, scope: CurrentScope) -> Reading:
    return Reading(sessions, scope)


ScopedReading = Annotated[Reading, Depends(get_reading)]
