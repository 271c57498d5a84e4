"""HTTP for duplicate suggestions: ``/v1/cases/{case_id}/duplicates``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from intake.cases import service as cases
from intake.deps import CaseWorker, TenantWork, Today
from intake.duplicates import service
from intake.duplicates.schemas import DecisionIn, DuplicateOut, DuplicatesOut
from intake.partners import service as partners

router = APIRouter(prefix="/v1/cases/{case_id}/duplicates", tags=["duplicates"])


@router.get("", response_model=DuplicatesOut)
async def list_duplicates(
    case_id: uuid.UUID,
    principal: CaseWorker,
    work: TenantWork,
    today: Today,
    include_dismissed: bool = False,
) -> DuplicatesOut:
    """Other cases of your NGO that may be about the same person, each with its state
    (``suggested``, ``confirmed``; ``dismissed`` only with ``include_dismissed=true``), and
    the partner NGOs that may already know the person. Shows no personal data."""
    async with work() as session:
        case = await cases.get(session=session, case_id=case_id)
        items = await service.suggestions(
            session=session, case=case, include_dismissed=include_dismissed
        )
        hints = await partners.hints_of(session, person_id=case.person_id)
        partner_hints = await partners.partners_who_may_know(
            session, hints=hints, today=today, language=principal.language
        )
        return DuplicatesOut(items=items, partner_hints=partner_hints)


@router.put("/{other_case_id}", response_model=DuplicateOut)
async def decide_duplicate(
    case_id: uuid.UUID,
    other_case_id: uuid.UUID,
    data: DecisionIn,
    request: Request,
    principal: CaseWorker,
    work: TenantWork,
) -> DuplicateOut:
    """Decide whether two of your NGO's cases are about the same person: ``confirmed`` (shown
    on both cases) or ``dismissed`` (never suggested again). Nothing is merged; deciding again
    replaces the decision."""
    async with work() as session:
        return await service.decide(
            session=session,
            principal=principal,
            case_id=case_id,
            other_id=other_case_id,
            decision=data.decision,
            now=request.app.state.clock(),
        )
