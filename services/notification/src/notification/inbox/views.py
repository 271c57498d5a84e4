from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from notification.deps import UserWork
from notification.inbox import service
from notification.inbox.schemas import InboxMessageOut, UnreadCount
from tirek.web.problems import NotFound

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])


@router.get("", response_model=list[InboxMessageOut])
async def list_inbox(
    work: UserWork,
    unread: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[InboxMessageOut]:
    """The caller's own messages, newest first."""
    async with work() as session:
        rows = await service.messages(
            session, user_id=work.principal.user_id, unread_only=unread, limit=limit
        )
        return [InboxMessageOut.model_validate(row) for row in rows]


@router.get("/unread-count", response_model=UnreadCount)
async def unread_count(work: UserWork) -> UnreadCount:
    async with work() as session:
        return UnreadCount(
            unread=await service.unread_count(session, user_id=work.principal.user_id)
        )


@router.post("/{message_id}/read", response_model=InboxMessageOut)
async def mark_read(message_id: uuid.UUID, work: UserWork, request: Request) -> InboxMessageOut:
    async with work() as session:
        message = await service.mark_read(
            session,
            user_id=work.principal.user_id,
            message_id=message_id,
            now=request.app.state.clock(),
        )
        if message is None:
            raise NotFound("No such message in your inbox.", title="Message not found")
        return InboxMessageOut.model_validate(message)
