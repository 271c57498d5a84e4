"""Return plans: recorded by either NGO on an accepted referral, arrival confirmed by the
receiver. Each change is an event; a planned return with no arrival becomes overdue."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.deadlines import service as deadlines
from referral.deadlines.service import DeadlineKind
from referral.directory import service as directory
from referral.referrals import service as referrals
from referral.referrals.models import Referral
from referral.returns.models import ReturnPlan
from referral.returns.schemas import ArrivalIn, ReturnPlanIn, ReturnPlanPatch
from tirek.auth import Principal
from tirek.crypto import Keyring
from tirek.events import Envelope
from tirek.events.referral import (
    ReferralState,
    ReturnArrived,
    ReturnOverdue,
    ReturnPlanned,
    ReturnUpdated,
)
from tirek.messaging.outbox import add_to_outbox
from tirek.web.problems import Conflict, Forbidden, NotFound, Unprocessable

_PLANNABLE = frozenset({ReferralState.ACCEPTED.value, ReferralState.IN_PROGRESS.value})


def _facts(plan: ReturnPlan, *, actor: str | None, at: datetime) -> dict[str, Any]:
    return {
        "return_id": plan.id,
        "referral_id": plan.referral_id,
        "sender_tenant": plan.sender_tenant,
        "receiver_tenant": plan.receiver_tenant,
        "planned_date": plan.planned_date,
        "origin_country": plan.origin_country,
        "destination_country": plan.destination_country,
        "border_crossing": plan.border_crossing,
        "transport": plan.transport,
        "actor": actor,
        "at": at,
    }


async def _referral(
    session: AsyncSession, principal: Principal, referral_id: uuid.UUID
) -> Referral:
    return await referrals.get(
        session=session, tenant_id=principal.tenant_id, referral_id=referral_id, lock=True
    )


async def _plan_of(session: AsyncSession, referral_id: uuid.UUID) -> ReturnPlan | None:
    plan: ReturnPlan | None = await session.scalar(
        select(ReturnPlan).where(ReturnPlan.referral_id == referral_id).with_for_update()
    )
    return plan


def _require_plannable(referral: Referral) -> None:
    if referral.state not in _PLANNABLE:
        raise Conflict(
            f"A return is planned on an accepted or in-progress referral; this one is "
            f"{referral.state}.",
            title="Referral not accepted",
            slug="return-not-plannable",
            state=referral.state,
        )


async def plan(
    *,
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    data: ReturnPlanIn,
    now: datetime,
    arrival_within: timedelta,
    keyring: Keyring,
) -> ReturnPlan:
    referral = await _referral(session, principal, referral_id)
    _require_plannable(referral)
    if await _plan_of(session, referral.id) is not None:
        raise Conflict(
            "This referral already has a return plan: change it instead.",
            title="Return already planned",
            slug="return-exists",
        )
    origin, destination = data.origin_country, data.destination_country
    if origin is None:
        sender = await directory.get_partner(session, referral.sender_tenant)
        origin = sender.country if sender else None
    if destination is None:
        receiver = await directory.get_partner(session, referral.receiver_tenant)
        destination = receiver.country if receiver else None
    if origin is None or destination is None:
        raise Unprocessable(
            "Give origin_country and destination_country: the directory does not know them.",
            title="Countries unknown",
            slug="return-countries",
        )
    plan = ReturnPlan(
        id=uuid.uuid4(),
        referral_id=referral.id,
        sender_tenant=referral.sender_tenant,
        receiver_tenant=referral.receiver_tenant,
        planned_date=data.planned_date,
        origin_country=origin,
        destination_country=destination,
        route=data.route,
        border_crossing=data.border_crossing,
        transport=data.transport.value if data.transport else None,
        escort=data.escort,
        documents=data.documents,
        met_by=data.met_by,
        planned_by=principal.user_id,
        updated_at=now,
    )
    await referrals.seal(keyring, plan)
    session.add(plan)
    await session.flush()
    await deadlines.schedule(
        session,
        kind=DeadlineKind.ARRIVAL,
        referral_id=referral.id,
        sender_tenant=referral.sender_tenant,
        due_at=deadlines.arrival_due(plan.planned_date, within=arrival_within),
        period=None,
    )
    await add_to_outbox(
        session,
        Envelope.wrap(
            ReturnPlanned(**_facts(plan, actor=principal.user_id, at=now)),
            tenant=principal.tenant_id,
            subject=referral.id,
        ),
    )
    return plan


async def update(
    *,
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    data: ReturnPlanPatch,
    now: datetime,
    arrival_within: timedelta,
    keyring: Keyring,
) -> ReturnPlan:
    referral = await _referral(session, principal, referral_id)
    plan = await get(session=session, principal=principal, referral_id=referral.id, keyring=keyring)
    if plan.arrived_on is not None:
        raise Conflict(
            "The person has arrived: the return plan is closed.",
            title="Return completed",
            slug="return-arrived",
        )
    _require_plannable(referral)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("planned_date", 1) is None or changes.get("documents", 1) is None:
        raise Unprocessable(
            "planned_date and documents cannot be cleared.",
            title="Invalid change",
            slug="return-change",
        )
    changed: list[str] = []
    for name, value in changes.items():
        value = value.value if hasattr(value, "value") else value
        if getattr(plan, name) != value:
            setattr(plan, name, value)
            changed.append(name)
    if not changed:
        return plan
    await referrals.seal(keyring, plan)
    plan.updated_at = now
    if "planned_date" in changed:
        await deadlines.schedule(
            session,
            kind=DeadlineKind.ARRIVAL,
            referral_id=referral.id,
            sender_tenant=referral.sender_tenant,
            due_at=deadlines.arrival_due(plan.planned_date, within=arrival_within),
            period=None,
        )
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(
            ReturnUpdated(**_facts(plan, actor=principal.user_id, at=now), changed=sorted(changed)),
            tenant=principal.tenant_id,
            subject=referral.id,
        ),
    )
    return plan


async def arrived(
    *,
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    data: ArrivalIn,
    now: datetime,
    keyring: Keyring,
) -> ReturnPlan:
    """The receiving NGO confirms the person arrived."""
    referral = await _referral(session, principal, referral_id)
    plan = await get(session=session, principal=principal, referral_id=referral.id, keyring=keyring)
    if referral.receiver_tenant != principal.tenant_id:
        raise Forbidden(
            "Only the receiving NGO confirms an arrival.",
            title="Not allowed to do this",
            slug="return-arrival-by-receiver",
        )
    if plan.arrived_on is not None:
        raise Conflict("The arrival was already confirmed.", title="Already arrived")
    _require_plannable(referral)
    arrived_on = data.arrived_on or now.date()
    if arrived_on > now.date():
        raise Unprocessable(
            "An arrival cannot be confirmed for a future date.",
            title="Arrival in the future",
            slug="return-arrival-date",
        )
    plan.arrived_on = arrived_on
    plan.updated_at = now
    await deadlines.close(session, kind=DeadlineKind.ARRIVAL, referral_id=referral.id, now=now)
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(
            ReturnArrived(**_facts(plan, actor=principal.user_id, at=now), arrived_on=arrived_on),
            tenant=principal.tenant_id,
            subject=referral.id,
        ),
    )
    return plan


async def get(
    *, session: AsyncSession, principal: Principal, referral_id: uuid.UUID, keyring: Keyring
) -> ReturnPlan:
    """The referral's return plan, opened for reading."""
    await referrals.get(session=session, tenant_id=principal.tenant_id, referral_id=referral_id)
    plan = await _plan_of(session, referral_id)
    if plan is None:
        raise NotFound(
            "This referral has no return plan.", title="No return plan", slug="return-not-found"
        )
    await referrals.reveal(keyring, [plan])
    return plan


async def announce_overdue(
    session: AsyncSession, referral: Referral, *, due_at: datetime, now: datetime
) -> bool:
    """``return.overdue`` for a planned return with no arrival; ``False`` if it no longer
    applies (arrived, or the referral was closed)."""
    plan = await _plan_of(session, referral.id)
    if plan is None or plan.arrived_on is not None or referral.state not in _PLANNABLE:
        return False
    await add_to_outbox(
        session,
        Envelope.wrap(
            ReturnOverdue(**_facts(plan, actor=None, at=now), due_at=due_at),
            tenant=referral.sender_tenant,
            subject=referral.id,
        ),
    )
    return True
