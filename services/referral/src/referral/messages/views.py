"""HTTP for a referral's thread: ``/v1/referrals/{referral_id}/messages``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from referral.deps import KeyringDep, Now, Staff, TenantWork
from referral.messages import service
from referral.messages.schemas import MessageIn, MessageOut

router = APIRouter(prefix="/v1/referrals/{referral_id}/messages", tags=["messages"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MessageOut)
async def post_message(
    referral_id: uuid.UUID,
    data: MessageIn,
    principal: Staff,
    work: TenantWork,
    now: Now,
    keyring: KeyringDep,
) -> MessageOut:
    """Write to the other NGO of the referral."""
    async with work() as session:
        message = await service.post(
            session=session,
            principal=principal,
            referral_id=referral_id,
            data=data,
            now=now,
            keyring=keyring,
        )
        return MessageOut.model_validate(message)


@router.get("", response_model=list[MessageOut])
async def list_messages(
    referral_id: uuid.UUID, principal: Staff, work: TenantWork, keyring: KeyringDep
) -> list[MessageOut]:
    async with work() as session:
        return [
            MessageOut.model_validate(m)
            for m in await service.list_for(
                session=session, principal=principal, referral_id=referral_id, keyring=keyring
            )
        ]
