"""HTTP for assistance records: ``/v1/cases/{case_id}/assistance``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from intake import access_log
from intake.access_log import Purpose
from intake.assistance import service
from intake.assistance.schemas import AssistanceIn, AssistanceOut
from intake.deps import CaseWorker, KeyringDep, TenantWork

router = APIRouter(prefix="/v1/cases/{case_id}/assistance", tags=["assistance"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AssistanceOut)
async def record_assistance(
    case_id: uuid.UUID,
    data: AssistanceIn,
    principal: CaseWorker,
    work: TenantWork,
    keyring: KeyringDep,
) -> AssistanceOut:
    """Record a consultation or service given. Publishes ``assistance.recorded``."""
    async with work() as session:
        record = await service.record(
            session=session, principal=principal, case_id=case_id, data=data, keyring=keyring
        )
        return AssistanceOut.model_validate(record)


@router.get("", response_model=list[AssistanceOut])
async def list_assistance(
    case_id: uuid.UUID,
    principal: CaseWorker,
    work: TenantWork,
    keyring: KeyringDep,
    purpose: Purpose,
) -> list[AssistanceOut]:
    """The assistance given on a case. Access-logged (the notes are about the person)."""
    async with work() as session:
        records = await service.list_for_case(session=session, case_id=case_id, keyring=keyring)
        await access_log.record(
            session,
            principal=principal,
            case_ids=[case_id],
            fields=access_log.fields.ASSISTANCE,
            purpose=purpose,
            operation="assistance.read",
        )
        return [AssistanceOut.model_validate(r) for r in records]
