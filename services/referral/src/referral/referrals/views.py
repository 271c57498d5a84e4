"""HTTP for referrals: ``/v1/referrals`` and the transitions of one referral."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from referral.deps import KeyringDep, Now, Staff, TenantWork
from referral.referrals import service
from referral.referrals.schemas import (
    AcceptIn,
    CancelIn,
    CompleteIn,
    DeclineIn,
    ReferralIn,
    ReferralOut,
    ReferralPage,
    TransitionOut,
)
from tirek.events.referral import ReferralState
from tirek.web.params import Offset

router = APIRouter(prefix="/v1/referrals", tags=["referrals"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ReferralOut)
async def create_referral(
    data: ReferralIn, principal: Staff, work: TenantWork, now: Now, keyring: KeyringDep
) -> ReferralOut:
    """Draft a referral of one of your cases to a partner NGO (a sharing agreement in force
    must allow it). Submit it next, and have another case manager approve it."""
    async with work() as session:
        referral = await service.create(
            session=session, principal=principal, data=data, now=now, keyring=keyring
        )
        return await service.present(
            session=session, referral=referral, tenant_id=principal.tenant_id, keyring=keyring
        )


@router.get("", response_model=ReferralPage)
async def list_referrals(
    request: Request,
    principal: Staff,
    work: TenantWork,
    keyring: KeyringDep,
    direction: Literal["incoming", "outgoing"] | None = None,
    state: ReferralState | None = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    offset: Offset = 0,
) -> ReferralPage:
    """Your NGO's referrals: outgoing ones, and incoming ones once sent."""
    limit = min(limit, request.app.state.settings.max_page_size)
    async with work() as session:
        rows = await service.list_for(
            session=session,
            tenant_id=principal.tenant_id,
            direction=direction,
            state=state,
            limit=limit,
            offset=offset,
        )
        items = [
            await service.present(
                session=session, referral=r, tenant_id=principal.tenant_id, keyring=keyring
            )
            for r in rows
        ]
        return ReferralPage(items=items, limit=limit, offset=offset)


@router.get("/{referral_id}", response_model=ReferralOut)
async def get_referral(
    referral_id: uuid.UUID, principal: Staff, work: TenantWork, keyring: KeyringDep
) -> ReferralOut:
    """One referral. The receiving NGO sees the share package opened; the sender never does."""
    async with work() as session:
        referral = await service.get(
            session=session, tenant_id=principal.tenant_id, referral_id=referral_id
        )
        return await service.present(
            session=session,
            referral=referral,
            tenant_id=principal.tenant_id,
            keyring=keyring,
            with_package=True,
        )


@router.get("/{referral_id}/history", response_model=list[TransitionOut])
async def get_history(
    referral_id: uuid.UUID, principal: Staff, work: TenantWork
) -> list[TransitionOut]:
    """Every transition: who, when, from which state to which, and why."""
    async with work() as session:
        rows = await service.history(
            session=session, tenant_id=principal.tenant_id, referral_id=referral_id
        )
        return [
            TransitionOut(
                action=r.action,
                from_state=ReferralState(r.from_state) if r.from_state else None,
                to_state=ReferralState(r.to_state),
                actor=r.actor,
                actor_tenant=r.actor_tenant,
                at=r.at,
                reason=r.reason,
            )
            for r in rows
        ]


@router.post("/{referral_id}/submit", response_model=ReferralOut)
async def submit_referral(
    referral_id: uuid.UUID, principal: Staff, work: TenantWork, now: Now, keyring: KeyringDep
) -> ReferralOut:
    """Submit a draft for a case manager's approval."""
    async with work() as session:
        referral = await service.submit(
            session=session, principal=principal, referral_id=referral_id, now=now
        )
        return await service.present(
            session=session, referral=referral, tenant_id=principal.tenant_id, keyring=keyring
        )


@router.post("/{referral_id}/approve", response_model=ReferralOut)
async def approve_referral(
    referral_id: uuid.UUID, principal: Staff, work: TenantWork, now: Now, keyring: KeyringDep
) -> ReferralOut:
    """Approve (case managers only, never the referral's creator): intake prepares the
    share package."""
    async with work() as session:
        referral = await service.approve(
            session=session, principal=principal, referral_id=referral_id, now=now
        )
        return await service.present(
            session=session, referral=referral, tenant_id=principal.tenant_id, keyring=keyring
        )


@router.post("/{referral_id}/accept", response_model=ReferralOut)
async def accept_referral(
    referral_id: uuid.UUID,
    data: AcceptIn,
    principal: Staff,
    work: TenantWork,
    now: Now,
    keyring: KeyringDep,
) -> ReferralOut:
    """The receiving NGO accepts, naming its responsible caseworker."""
    async with work() as session:
        referral = await service.accept(
            session=session, principal=principal, referral_id=referral_id, data=data, now=now
        )
        return await service.present(
            session=session, referral=referral, tenant_id=principal.tenant_id, keyring=keyring
        )


@router.post("/{referral_id}/decline", response_model=ReferralOut)
async def decline_referral(
    referral_id: uuid.UUID,
    data: DeclineIn,
    principal: Staff,
    work: TenantWork,
    now: Now,
    keyring: KeyringDep,
) -> ReferralOut:
    """The receiving NGO declines, with a reason from the list and a note."""
    async with work() as session:
        referral = await service.decline(
            session=session,
            principal=principal,
            referral_id=referral_id,
            data=data,
            now=now,
            keyring=keyring,
        )
        return await service.present(
            session=session, referral=referral, tenant_id=principal.tenant_id, keyring=keyring
        )


@router.post("/{referral_id}/start", response_model=ReferralOut)
async def start_referral(
    referral_id: uuid.UUID, principal: Staff, work: TenantWork, now: Now, keyring: KeyringDep
) -> ReferralOut:
    """The receiving NGO starts providing the services."""
    async with work() as session:
        referral = await service.start(
            session=session, principal=principal, referral_id=referral_id, now=now
        )
        return await service.present(
            session=session, referral=referral, tenant_id=principal.tenant_id, keyring=keyring
        )


@router.post("/{referral_id}/complete", response_model=ReferralOut)
async def complete_referral(
    referral_id: uuid.UUID,
    data: CompleteIn,
    principal: Staff,
    work: TenantWork,
    now: Now,
    keyring: KeyringDep,
) -> ReferralOut:
    """The receiving NGO records the outcome of every requested service and completes."""
    async with work() as session:
        referral = await service.complete(
            session=session, principal=principal, referral_id=referral_id, data=data, now=now
        )
        return await service.present(
            session=session, referral=referral, tenant_id=principal.tenant_id, keyring=keyring
        )


@router.post("/{referral_id}/cancel", response_model=ReferralOut)
async def cancel_referral(
    referral_id: uuid.UUID,
    data: CancelIn,
    principal: Staff,
    work: TenantWork,
    now: Now,
    keyring: KeyringDep,
) -> ReferralOut:
    """Either NGO cancels, with a reason, before completion."""
    async with work() as session:
        referral = await service.cancel(
            session=session,
            principal=principal,
            referral_id=referral_id,
            data=data,
            now=now,
            keyring=keyring,
        )
        return await service.present(
            session=session, referral=referral, tenant_id=principal.tenant_id, keyring=keyring
        )
