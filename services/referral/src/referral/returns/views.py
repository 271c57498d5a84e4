"""HTTP for a referral's return: ``/v1/referrals/{referral_id}/return``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Request, status

from referral.deps import KeyringDep, Now, Staff, TenantWork
from referral.returns import service
from referral.returns.schemas import ArrivalIn, ReturnPlanIn, ReturnPlanOut, ReturnPlanPatch

router = APIRouter(prefix="/v1/referrals/{referral_id}/return", tags=["returns"])


def _arrival_within(request: Request) -> timedelta:
    return timedelta(hours=request.app.state.settings.arrival_within_hours)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ReturnPlanOut)
async def plan_return(
    referral_id: uuid.UUID,
    data: ReturnPlanIn,
    request: Request,
    principal: Staff,
    work: TenantWork,
    now: Now,
    keyring: KeyringDep,
) -> ReturnPlanOut:
    """Record the return plan on an accepted referral (either NGO)."""
    async with work() as session:
        plan = await service.plan(
            session=session,
            principal=principal,
            referral_id=referral_id,
            data=data,
            now=now,
            arrival_within=_arrival_within(request),
            keyring=keyring,
        )
        return ReturnPlanOut.model_validate(plan)


@router.patch("", response_model=ReturnPlanOut)
async def update_return(
    referral_id: uuid.UUID,
    data: ReturnPlanPatch,
    request: Request,
    principal: Staff,
    work: TenantWork,
    now: Now,
    keyring: KeyringDep,
) -> ReturnPlanOut:
    """Change the return plan (publishes ``return.updated`` with the changed fields' names)."""
    async with work() as session:
        plan = await service.update(
            session=session,
            principal=principal,
            referral_id=referral_id,
            data=data,
            now=now,
            arrival_within=_arrival_within(request),
            keyring=keyring,
        )
        return ReturnPlanOut.model_validate(plan)


@router.get("", response_model=ReturnPlanOut)
async def get_return(
    referral_id: uuid.UUID, principal: Staff, work: TenantWork, keyring: KeyringDep
) -> ReturnPlanOut:
    async with work() as session:
        plan = await service.get(
            session=session, principal=principal, referral_id=referral_id, keyring=keyring
        )
        return ReturnPlanOut.model_validate(plan)


@router.post("/arrived", response_model=ReturnPlanOut)
async def confirm_arrival(
    referral_id: uuid.UUID,
    principal: Staff,
    work: TenantWork,
    now: Now,
    keyring: KeyringDep,
    data: Annotated[ArrivalIn | None, Body()] = None,
) -> ReturnPlanOut:
    """The receiving NGO confirms the person arrived."""
    async with work() as session:
        plan = await service.arrived(
            session=session,
            principal=principal,
            referral_id=referral_id,
            data=data or ArrivalIn(),
            now=now,
            keyring=keyring,
        )
        return ReturnPlanOut.model_validate(plan)
