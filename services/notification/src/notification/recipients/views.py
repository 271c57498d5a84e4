from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from notification.deps import AdminWork, Planning
from notification.recipients import service
from notification.recipients.schemas import RecipientIn, RecipientOut
from notification.rules.cache import tenant_key
from tirek.web.problems import NotFound

router = APIRouter(prefix="/v1/recipients", tags=["recipients"])

UserId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]


@router.get("", response_model=list[RecipientOut])
async def list_recipients(work: AdminWork) -> list[RecipientOut]:
    async with work() as session:
        return [RecipientOut.model_validate(row) for row in await service.list_all(session)]


@router.get("/{user_id}", response_model=RecipientOut)
async def get_recipient(user_id: UserId, work: AdminWork) -> RecipientOut:
    async with work() as session:
        recipient = await service.get(session, user_id=user_id)
        if recipient is None:
            raise NotFound("No such recipient in your organisation.", title="Recipient not found")
        return RecipientOut.model_validate(recipient)


@router.put("/{user_id}", response_model=RecipientOut)
async def put_recipient(
    user_id: UserId, data: RecipientIn, work: AdminWork, planning: Planning
) -> RecipientOut:
    """Create or replace a user's roles, language, addresses and per-channel preferences
    (planning sees the change once it has committed; other instances of notification within
    their cache's TTL)."""
    async with work() as session:
        planning.invalidate_on_commit(session, tenant_key(work.principal.tenant_id))
        recipient = await service.upsert(
            session, tenant_id=work.principal.tenant_id, user_id=user_id, data=data
        )
        return RecipientOut.model_validate(recipient)


@router.delete("/{user_id}", status_code=204)
async def delete_recipient(user_id: UserId, work: AdminWork, planning: Planning) -> Response:
    async with work() as session:
        planning.invalidate_on_commit(session, tenant_key(work.principal.tenant_id))
        if not await service.remove(session, user_id=user_id):
            raise NotFound("No such recipient in your organisation.", title="Recipient not found")
    return Response(status_code=204)
