"""Inbox: exactly-once effect for at-least-once delivery.

A handler records ``(consumer, event id)`` in the same transaction as its effect::

    async with UnitOfWork(sessions, envelope.tenant) as session:
        if not await first_delivery(session, consumer=SPEC.name, event_id=envelope.id):
            return  # already applied
        ...  # the effect

One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` decides, never a check-then-insert: two
concurrent deliveries of one event cannot both win, and a rolled-back effect rolls the inbox
row back with it, so the redelivery applies it. The table has no tenant RLS (see
:mod:`tirek.messaging.tables`).
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from tirek.messaging.tables import inbox

__all__ = ["first_delivery", "inbox"]

# A text() statement: SQLAlchemy never caches the compilation of PostgreSQL's ON CONFLICT,
# and compiling it on every delivery cost more than the database round trip.
_CLAIM = text(
    "INSERT INTO inbox (consumer, event_id) VALUES (:consumer, :event_id) "
    "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id"
).bindparams(bindparam("event_id", type_=UUID(as_uuid=True)))


async def first_delivery(session: AsyncSession, *, consumer: str, event_id: uuid.UUID) -> bool:
    """Record that ``consumer`` handles ``event_id`` now; ``False`` means already applied.

    Runs in the caller's transaction; the caller commits it with the effect.
    """
    result = await session.execute(_CLAIM, {"consumer": consumer, "event_id": event_id})
    return result.scalar_one_or_none() is not None
