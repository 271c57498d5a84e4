"""Writing and reading the access log."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, bindparam, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from intake.access_log.models import AccessLogEntry
from intake.access_log.purposes import AccessPurpose
from tirek.auth import Principal
from tirek.web.problems import BadRequest

# One statement whatever the number of cases (a page of 200 is one round trip), compiled
# once: the ids travel as one array parameter and unnest into rows.
_RECORD = text(
    "INSERT INTO access_log (tenant_id, user_id, roles, case_id, fields, purpose, operation) "
    "SELECT :tenant_id, :user_id, :roles, case_id, :fields, :purpose, :operation "
    "FROM unnest(CAST(:case_ids AS uuid[])) AS case_id"
).bindparams(
    bindparam("tenant_id", type_=UUID(as_uuid=True)),
    bindparam("case_ids", type_=ARRAY(UUID(as_uuid=True))),
)


async def record(
    session: AsyncSession,
    *,
    principal: Principal,
    case_ids: Iterable[uuid.UUID],
    fields: Iterable[str],
    purpose: AccessPurpose,
    operation: str,
) -> int:
    """Log that ``principal`` read ``fields`` of each of ``case_ids`` for ``purpose``.

    Call it inside the read's unit of work (``session`` scoped to the principal's tenant):
    the entries commit with the read, and if they cannot be written the read fails too.
    One INSERT for all the cases. Returns how many entries were written (0 for no case).
    """
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        return 0
    await session.execute(
        _RECORD,
        {
            "tenant_id": principal.tenant_id,
            "user_id": principal.user_id,
            "roles": sorted(role.value for role in principal.roles),
            "case_ids": ids,
            "fields": list(dict.fromkeys(fields)),
            "purpose": AccessPurpose(purpose).value,
            "operation": operation,
        },
    )
    return len(ids)


@dataclass(frozen=True)
class LogFilter:
    case_id: uuid.UUID | None = None
    user: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def encode_cursor(entry: AccessLogEntry) -> str:
    raw = json.dumps([entry.at.isoformat(), str(entry.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, entry_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(at), uuid.UUID(entry_id)
    except (ValueError, TypeError) as error:
        raise BadRequest(
            title="Invalid cursor", detail="Pass next_cursor as it was given."
        ) from error


async def entries(
    *, session: AsyncSession, filters: LogFilter, cursor: str | None, limit: int
) -> tuple[list[AccessLogEntry], str | None]:
    """One page of the tenant's log, newest first, and the cursor of the next page."""
    statement: Select[tuple[AccessLogEntry]] = select(AccessLogEntry)
    if filters.case_id is not None:
        statement = statement.where(AccessLogEntry.case_id == filters.case_id)
    if filters.user is not None:
        statement = statement.where(AccessLogEntry.user_id == filters.user)
    if filters.since is not None:
        statement = statement.where(AccessLogEntry.at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AccessLogEntry.at <= filters.until)
    if cursor:
        at, entry_id = decode_cursor(cursor)
        statement = statement.where(
            or_(
                AccessLogEntry.at < at,
                and_(AccessLogEntry.at == at, AccessLogEntry.id < entry_id),
            )
        )
    statement = statement.order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc())
    rows = list(await session.scalars(statement.limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor
