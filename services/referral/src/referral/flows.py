"""Use cases that span domains: what an overdue deadline announces."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.deadlines.models import Deadline
from referral.deadlines.service import DeadlineKind
from referral.referrals import service as referrals
from referral.referrals.models import Referral
from referral.returns import service as returns
from tirek.events.referral import ReferralOverdue, ReferralState


async def announce_overdue(
    session: AsyncSession, deadline: Deadline, period: int, now: datetime
) -> bool:
    """Write ``referral.overdue`` (period n) or ``return.overdue`` for ``deadline``; ``False``
    when it no longer applies (the referral was answered, the person arrived, ...)."""
    referral = await session.scalar(
        select(Referral).where(Referral.id == deadline.referral_id).with_for_update()
    )
    if referral is None:
        return False
    if deadline.kind == DeadlineKind.ARRIVAL.value:
        return await returns.announce_overdue(session, referral, due_at=deadline.due_at, now=now)
    if referral.state != ReferralState.SENT.value:
        return False
    due_at = deadline.due_at + timedelta(seconds=(deadline.period_seconds or 0) * (period - 1))
    await referrals.publish(
        session,
        referral,
        ReferralOverdue(
            **referrals.facts(referral, actor=None, at=now), due_at=due_at, period=period
        ),
        tenant=referral.sender_tenant,
    )
    return True
