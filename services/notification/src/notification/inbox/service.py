"""A user's inbox: list, count unread, mark read (always the caller's own messages)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notification.inbox.models import InboxMessage


async def messages(
    session: AsyncSession, *, user_id: str, unread_only: bool, limit: int
) -> list[InboxMessage]:
    query = select(InboxMessage).where(InboxMessage.user_id == user_id)
    if unread_only:
        query = query.where(InboxMessage.read_at.is_(None))
    query = query.order_by(InboxMessage.created_at.desc(), InboxMessage.id).limit(limit)
    return list((await session.scalars(query)).all())


async def unread_count(session: AsyncSession, *, user_id: str) -> int:
    query = select(func.count()).where(
        InboxMessage.user_id == user_id, InboxMessage.read_at.is_(None)
    )
    return int((await session.execute(query)).scalar_one())


async def mark_read(
    session: AsyncSession, *, user_id: str, message_id: uuid.UUID, now: datetime
) -> InboxMessage | None:
    message = await session.get(InboxMessage, message_id)
    if message is None or message.user_id != user_id:
        return None
    if message.read_at is None:
        message.read_at = now
    await session.flush()
    return message
