"""HTTP for cases: ``/v1/cases``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from intake.cases import service
from intake.cases.schemas import (
    CaseClose,
    CaseIn,
    CaseOut,
    CasePage,
    CasePatch,
    CaseSummary,
    DuplicateHint,
)
from intake.deps import CaseManager, CaseWorker, Keys, TenantWork, Today
from tirek.events.intake import CaseCategory, CaseStatus, TrmStage
from tirek.web.params import IsoDate

router = APIRouter(prefix="/v1/cases", tags=["cases"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CaseOut)
async def register_case(
    data: CaseIn, principal: CaseWorker, work: TenantWork, today: Today, keys: Keys
) -> CaseOut:
    """Register a person and open their case. Publishes ``case.registered``.

    The answer lists ``possible_duplicates``: the NGO's other cases whose person has the same
    name in any alphabet or spelling, or the same document number. Nothing is merged."""
    async with work() as session:
        case = await service.register(
            session=session, principal=principal, data=data, today=today, keys=keys
        )
        duplicates = await service.possible_duplicates(session=session, case=case)
        out = CaseOut.model_validate(case)
        out.possible_duplicates = [DuplicateHint.model_validate(d) for d in duplicates]
        return out


@router.get("", response_model=CasePage)
async def list_cases(
    principal: CaseWorker,
    work: TenantWork,
    keys: Keys,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    category: CaseCategory | None = None,
    trm_stage: TrmStage | None = None,
    assigned_to: Annotated[str | None, Query(max_length=64)] = None,
    opened_from: IsoDate | None = None,
    opened_to: IsoDate | None = None,
    name: Annotated[
        str | None, Query(max_length=400, description="a full name in any alphabet or spelling")
    ] = None,
    document: Annotated[str | None, Query(max_length=64, description="a document number")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """The NGO's cases, newest first, filtered; follow ``next_cursor`` for more."""
    filters = service.CaseFilter(
        status_, category, trm_stage, assigned_to, opened_from, opened_to, name, document
    )
    async with work() as session:
        cases, next_cursor = await service.list_cases(
            session=session,
            filters=filters,
            cursor=cursor,
            limit=limit,
            keys=keys,
            tenant=principal.tenant_id,
        )
        return CasePage(
            items=[CaseSummary.model_validate(c) for c in cases], next_cursor=next_cursor
        )


@router.get("/{case_id}", response_model=CaseOut)
async def read_case(case_id: uuid.UUID, principal: CaseWorker, work: TenantWork) -> CaseOut:
    async with work() as session:
        return CaseOut.model_validate(await service.get(session=session, case_id=case_id))


@router.patch("/{case_id}", response_model=CaseOut)
async def update_case(
    case_id: uuid.UUID, patch: CasePatch, principal: CaseWorker, work: TenantWork, keys: Keys
) -> CaseOut:
    """Change fields of a case or its person. Reassigning (``assigned_to``) is for case
    managers. Publishes ``case.updated``."""
    async with work() as session:
        case = await service.update(
            session=session, principal=principal, case_id=case_id, patch=patch, keys=keys
        )
        return CaseOut.model_validate(case)


@router.post("/{case_id}/close", response_model=CaseOut)
async def close_case(
    case_id: uuid.UUID, data: CaseClose, principal: CaseManager, work: TenantWork, today: Today
) -> CaseOut:
    """Close a case (case managers only). Publishes ``case.closed``."""
    async with work() as session:
        case = await service.close(session=session, case_id=case_id, data=data, today=today)
        return CaseOut.model_validate(case)
