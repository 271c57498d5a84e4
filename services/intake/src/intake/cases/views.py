"""HTTP for cases: ``/v1/cases``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from intake import access_log
from intake.access_log import AccessPurpose, Purpose
from intake.cases import registration as registering
from intake.cases import service
from intake.cases.models import Case
from intake.cases.schemas import (
    CaseClose,
    CaseIn,
    CaseOut,
    CasePage,
    CasePatch,
    CaseSummary,
    DuplicateHint,
)
from intake.deps import CaseManager, CaseWorker, KeyringDep, TenantWork, Today
from intake.privacy.reveal import reveal
from tirek.auth import Principal
from tirek.events.intake import CaseCategory, CaseStatus, TrmStage
from tirek.web.params import IsoDate

router = APIRouter(prefix="/v1/cases", tags=["cases"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CaseOut)
async def register_case(
    data: CaseIn, principal: CaseWorker, work: TenantWork, today: Today, keyring: KeyringDep
) -> CaseOut:
    """Register a person and open their case. Publishes ``case.registered``.

    The answer lists ``possible_duplicates``: the NGO's other cases whose person has the same
    name in any alphabet or spelling, or the same document number. Nothing is merged."""
    async with work() as session:
        registration = await registering.start_registration(
            session=session, principal=principal, data=data, today=today, keyring=keyring
        )
        # What the answer needs, read before the case takes its number (and locks the NGO's
        # counter until commit).
        found = await registering.found_on_registration(
            session=session, registration=registration, today=today, language=principal.language
        )
        case = await registering.open_case(session=session, registration=registration)
        out = CaseOut.model_validate(case)
        out.possible_duplicates = [DuplicateHint.model_validate(d) for d in found.duplicates]
        out.partner_hints = found.partners
        return out


@router.get("", response_model=CasePage)
async def list_cases(
    principal: CaseWorker,
    work: TenantWork,
    keyring: KeyringDep,
    purpose: Purpose,
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
    """The NGO's cases, newest first, filtered; follow ``next_cursor`` for more. Each row
    shows the person's names: the read is access-logged, once per case on the page."""
    filters = service.CaseFilter(
        status_, category, trm_stage, assigned_to, opened_from, opened_to, name, document
    )
    async with work() as session:
        cases, next_cursor = await service.list_cases(
            session=session,
            filters=filters,
            cursor=cursor,
            limit=limit,
            keyring=keyring,
            tenant=principal.tenant_id,
        )
        await access_log.record(
            session,
            principal=principal,
            case_ids=[c.id for c in cases],
            fields=access_log.fields.NAMES,
            purpose=purpose,
            operation="case.list",
        )
        await reveal(keyring, [c.person for c in cases])
        return CasePage(
            items=[CaseSummary.model_validate(c) for c in cases], next_cursor=next_cursor
        )


async def _log_case_read(
    session: AsyncSession, principal: Principal, case: Case, purpose: AccessPurpose, operation: str
) -> None:
    await access_log.record(
        session,
        principal=principal,
        case_ids=[case.id],
        fields=access_log.fields.CASE,
        purpose=purpose,
        operation=operation,
    )


@router.get("/{case_id}", response_model=CaseOut)
async def read_case(
    case_id: uuid.UUID,
    principal: CaseWorker,
    work: TenantWork,
    keyring: KeyringDep,
    purpose: Purpose,
) -> CaseOut:
    """The case and its person. Access-logged with the stated ``X-Access-Purpose``."""
    async with work() as session:
        case = await service.read(session=session, case_id=case_id, keyring=keyring)
        await _log_case_read(session, principal, case, purpose, "case.read")
        return CaseOut.model_validate(case)


@router.patch("/{case_id}", response_model=CaseOut)
async def update_case(
    case_id: uuid.UUID,
    patch: CasePatch,
    principal: CaseWorker,
    work: TenantWork,
    keyring: KeyringDep,
    purpose: Purpose,
) -> CaseOut:
    """Change fields of a case or its person. Reassigning (``assigned_to``) is for case
    managers. Publishes ``case.updated``. The answer shows the whole case: access-logged."""
    async with work() as session:
        case = await service.update(
            session=session, principal=principal, case_id=case_id, patch=patch, keyring=keyring
        )
        await _log_case_read(session, principal, case, purpose, "case.update")
        return CaseOut.model_validate(case)


@router.post("/{case_id}/close", response_model=CaseOut)
async def close_case(
    case_id: uuid.UUID,
    data: CaseClose,
    principal: CaseManager,
    work: TenantWork,
    today: Today,
    keyring: KeyringDep,
    purpose: Purpose,
) -> CaseOut:
    """Close a case (case managers only). Publishes ``case.closed``. The answer shows the
    whole case: access-logged."""
    async with work() as session:
        case = await service.close(
            session=session, case_id=case_id, data=data, today=today, keyring=keyring
        )
        await _log_case_read(session, principal, case, purpose, "case.close")
        return CaseOut.model_validate(case)
