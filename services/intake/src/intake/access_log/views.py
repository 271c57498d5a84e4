"""HTTP for the access log: ``GET /v1/access-log`` (the NGO's administrators and case
managers; a caseworker reads no one's log, another NGO's entries never show)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.access_log import service
from intake.access_log.schemas import AccessLogEntryOut, AccessLogPage
from intake.deps import Work, get_sessions
from tirek.auth import Principal, Role, require_roles
from tirek.web.problems import Unprocessable

router = APIRouter(prefix="/v1/access-log", tags=["access log"])

#: Who reads an NGO's access log: its administrators and case managers.
LogReader = Annotated[Principal, Depends(require_roles(Role.TENANT_ADMIN, Role.CASE_MANAGER))]


def _log_work(
    principal: LogReader,
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
) -> Work:
    return Work(sessions, principal)


LogWork = Annotated[Work, Depends(_log_work)]


def _utc(moment: datetime | None) -> datetime | None:
    """A time without an offset is read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("", response_model=AccessLogPage)
async def read_access_log(
    principal: LogReader,
    work: LogWork,
    case_id: uuid.UUID | None = None,
    user: Annotated[str | None, Query(min_length=1, max_length=64, description="a user id")] = None,
    since: Annotated[
        datetime | None,
        Query(alias="from", description="from this time on (ISO 8601; UTC if no offset)"),
    ] = None,
    until: Annotated[
        datetime | None,
        Query(alias="to", description="up to this time (ISO 8601; UTC if no offset)"),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AccessLogPage:
    """Your NGO's access log, newest first: who read which case's personal data, when,
    which fields and for what stated purpose. Follow ``next_cursor`` for more."""
    filters = service.LogFilter(case_id, user, _utc(since), _utc(until))
    if filters.since and filters.until and filters.since > filters.until:
        raise Unprocessable(title="Empty period", detail="from is after to.")
    async with work() as session:
        rows, next_cursor = await service.entries(
            session=session, filters=filters, cursor=cursor, limit=limit
        )
        return AccessLogPage(
            items=[AccessLogEntryOut.model_validate(r) for r in rows], next_cursor=next_cursor
        )
