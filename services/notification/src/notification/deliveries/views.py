from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from notification.deliveries.models import Delivery, DeliveryAttempt
from notification.deliveries.schemas import AttemptOut, DeliveryOut
from notification.deps import AdminWork
from tirek.web.problems import NotFound

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])

Status = Literal["pending", "held", "sent", "failed", "digested"]


@router.get("", response_model=list[DeliveryOut])
async def list_deliveries(
    work: AdminWork,
    status: Annotated[Status | None, Query()] = None,
    channel: Annotated[Literal["inbox", "email", "webhook", "telegram"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:
    """The tenant's deliveries, newest first (``?status=failed``: what never arrived)."""
    query = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id).limit(limit)
    if status is not None:
        query = query.where(Delivery.status == status)
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    async with work() as session:
        rows = (await session.scalars(query)).all()
        return [DeliveryOut.model_validate(row) for row in rows]


@router.get("/{delivery_id}/attempts", response_model=list[AttemptOut])
async def list_attempts(delivery_id: uuid.UUID, work: AdminWork) -> list[AttemptOut]:
    async with work() as session:
        if await session.get(Delivery, delivery_id) is None:
            raise NotFound("No such delivery in your organisation.", title="Delivery not found")
        query = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.number)
        )
        return [AttemptOut.model_validate(row) for row in (await session.scalars(query)).all()]
