"""Persisted due dates and the scan that announces what became overdue.

A use case schedules or closes a deadline in its own transaction. :func:`scan_deadlines` finds
open deadlines whose next period has begun and announces each in its own tenant-scoped
transaction: it locks the deadline row (``FOR UPDATE SKIP LOCKED``, so two replicas or two
scans never both fire), writes the event to the outbox and records the period as announced.
Because the announced period is stored with the event, a restart never announces it again.

When the scanner was down for several periods, it announces the current period once (not
every missed one): a late reminder is useful, a burst of stale ones is noise.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referral.deadlines.models import Deadline
from tirek.db import UnitOfWork

_log = logging.getLogger("referral.deadlines")

#: Writes the overdue event for ``(deadline, period, now)`` to the outbox in the given session;
#: returns ``False`` when the deadline no longer applies (nothing written, it gets closed).
AnnounceOverdue = Callable[[AsyncSession, "Deadline", int, datetime], Awaitable[bool]]


class DeadlineKind(StrEnum):
    #: A sent referral the receiver has not answered (repeats every period).
    UNANSWERED = "referral_unanswered"
    #: A planned return whose arrival is not confirmed (fires once).
    ARRIVAL = "return_arrival"


def arrival_due(planned_date: date, *, within: timedelta) -> datetime:
    """When a return planned for ``planned_date`` becomes overdue."""
    return datetime.combine(planned_date, time(), UTC) + within


async def schedule(
    session: AsyncSession,
    *,
    kind: DeadlineKind,
    referral_id: uuid.UUID,
    sender_tenant: uuid.UUID,
    due_at: datetime,
    period: timedelta | None,
) -> None:
    """Set (or reset) the deadline of ``kind`` for a referral, in the caller's transaction."""
    values = {
        "sender_tenant": sender_tenant,
        "due_at": due_at,
        "period_seconds": int(period.total_seconds()) if period else None,
        "fired_periods": 0,
        "closed_at": None,
    }
    await session.execute(
        insert(Deadline)
        .values(id=uuid.uuid4(), kind=kind.value, referral_id=referral_id, **values)
        .on_conflict_do_update(index_elements=[Deadline.kind, Deadline.referral_id], set_=values)
    )


async def close(
    session: AsyncSession, *, kind: DeadlineKind, referral_id: uuid.UUID, now: datetime
) -> None:
    """The awaited thing happened (or can no longer happen): stop the deadline."""
    deadline = await session.scalar(
        select(Deadline)
        .where(Deadline.kind == kind.value, Deadline.referral_id == referral_id)
        .with_for_update()
    )
    if deadline is not None and deadline.closed_at is None:
        deadline.closed_at = now


def current_period(deadline: Deadline, now: datetime) -> int:
    """The overdue period ``now`` falls in: 0 before the due time, then 1, 2, ..."""
    if now < deadline.due_at:
        return 0
    if not deadline.period_seconds:
        return 1
    return int((now - deadline.due_at).total_seconds() // deadline.period_seconds) + 1


async def scan_deadlines(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    announce: AnnounceOverdue,
) -> int:
    """Announce every deadline whose next period began by ``now``; returns how many events."""
    next_due = Deadline.due_at + func.make_interval(
        0, 0, 0, 0, 0, 0, Deadline.fired_periods * func.coalesce(Deadline.period_seconds, 0)
    )
    async with UnitOfWork(sessions, None) as session:
        due = (
            await session.execute(
                select(Deadline.id, Deadline.sender_tenant).where(
                    Deadline.closed_at.is_(None),
                    or_(Deadline.period_seconds.is_not(None), Deadline.fired_periods == 0),
                    next_due <= now,
                )
            )
        ).all()
    fired = 0
    for deadline_id, sender_tenant in due:
        async with UnitOfWork(sessions, sender_tenant) as session:
            deadline = await session.scalar(
                select(Deadline)
                .where(Deadline.id == deadline_id, Deadline.closed_at.is_(None))
                .with_for_update(skip_locked=True)
            )
            if deadline is None:
                continue  # closed meanwhile, or another scanner holds it
            period = current_period(deadline, now)
            if period <= deadline.fired_periods:
                continue  # announced already (by another scanner, or before a restart)
            still_open = await announce(session, deadline, period, now)
            deadline.fired_periods = period
            if not still_open or not deadline.period_seconds:
                deadline.closed_at = now
            fired += int(still_open)
    if fired:
        _log.info("overdue deadlines announced", extra={"count": fired})
    return fired
