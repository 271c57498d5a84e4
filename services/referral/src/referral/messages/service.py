"""The thread of a referral: its two NGOs write to each other, nobody else reads it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.messages.models import ReferralMessage
from referral.messages.schemas import MessageIn
from referral.referrals import service as referrals
from tirek.auth import Principal
from tirek.crypto import Keyring
from tirek.events.referral import ReferralMessagePosted
from tirek.web.problems import Conflict


async def post(
    *,
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    data: MessageIn,
    now: datetime,
    keyring: Keyring,
) -> ReferralMessage:
    """Post a message; ``referral.message_posted`` says that it exists, never what it says."""
    referral = await referrals.get(
        session=session, tenant_id=principal.tenant_id, referral_id=referral_id
    )
    if referral.sent_at is None:
        raise Conflict(
            "Messages open once the referral has been sent to the receiving NGO.",
            title="Thread not open yet",
            slug="referral-thread-closed",
        )
    message = ReferralMessage(
        id=uuid.uuid4(),
        referral_id=referral.id,
        sender_tenant=referral.sender_tenant,
        receiver_tenant=referral.receiver_tenant,
        author_tenant=principal.tenant_id,
        author_user=principal.user_id,
        body=data.body,
        posted_at=now,
    )
    await referrals.seal(keyring, message)
    session.add(message)
    await session.flush()
    await referrals.publish(
        session,
        referral,
        ReferralMessagePosted(
            **referrals.facts(referral, actor=principal.user_id, at=now),
            message_id=message.id,
            author_tenant=principal.tenant_id,
        ),
        tenant=principal.tenant_id,
    )
    return message


async def list_for(
    *, session: AsyncSession, principal: Principal, referral_id: uuid.UUID, keyring: Keyring
) -> list[ReferralMessage]:
    """The thread, opened for reading."""
    await referrals.get(session=session, tenant_id=principal.tenant_id, referral_id=referral_id)
    messages = list(
        await session.scalars(
            select(ReferralMessage)
            .where(ReferralMessage.referral_id == referral_id)
            .order_by(ReferralMessage.posted_at, ReferralMessage.created_at)
        )
    )
    await referrals.reveal(keyring, messages)
    return messages
