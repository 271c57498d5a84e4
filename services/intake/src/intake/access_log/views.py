"""HTTP for the access log: ``GET /v1/access-log`` (the NGO's administrators and case
managers; a caseworker reads no one's log, another NGO's entries never show)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.access_log import service
from intake.access_log.schemas import AccessLogEntryOut, AccessLogPage
from intake.deps import KeyringDep, Work, get_sessions
from tirek.auth import Principal, Role, require_roles
from tirek.web.problems import Unprocessable

router = APIRouter(prefix="/v1/access-log", tags=["access log"])

#: Who reads an NGO's access log: its administrators and case managers.
LogReader = Annotated[Principal, Depends(require_roles(Role.TENANT_ADMIN, Role.CASE_MANAGER))]


async def _log_work(
    principal: LogReader,
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
    keyring: KeyringDep,
) -> Work:
    return Work(sessions, principal, keyring)


LogWork = Annotated[Work, Depends(_log_work)]


def _moment(value: str | None, *, end_of_day: bool) -> datetime | None:
    """An ISO 8601 time (UTC when it has no offset), or a date: its start for ``from``, its
    end for ``to``, so ``from=2026-03-01&to=2026-03-31`` is the whole of March (UTC)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Unprocessable(
            title="Not a time", detail="from and to take an ISO 8601 date or time."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_TIME = "an ISO 8601 date (2026-03-01) or time (2026-03-01T09:30:00+05:00; UTC if no offset)"


@router.get("", response_model=AccessLogPage)
async def read_access_log(
    principal: LogReader,
    work: LogWork,
    case_id: uuid.UUID | None = None,
    user: Annotated[str | None, Query(min_length=1, max_length=64, description="a user id")] = None,
    since: Annotated[
        str | None, Query(alias="from", max_length=40, description=f"from {_TIME}, inclusive")
    ] = None,
    until: Annotated[
        str | None, Query(alias="to", max_length=40, description=f"up to {_TIME}, inclusive")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AccessLogPage:
    """Your NGO's access log, newest first: who read which case's personal data, when,
    which fields and for what stated purpose. Follow ``next_cursor`` for more."""
    filters = service.LogFilter(
        case_id, user, _moment(since, end_of_day=False), _moment(until, end_of_day=True)
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise Unprocessable(title="Empty period", detail="from is after to.")
    async with work() as session:
        rows, next_cursor = await service.entries(
            session=session, filters=filters, cursor=cursor, limit=limit
        )
        return AccessLogPage(
            items=[AccessLogEntryOut.model_validate(r) for r in rows], next_cursor=next_cursor
        )
