"""HTTP for consents: ``/v1/cases/{case_id}/consents``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from intake import access_log
from intake.access_log import AccessPurpose, Purpose
from intake.consents import service
from intake.consents.schemas import ConsentIn, ConsentOut, ConsentWithdrawal
from intake.deps import CaseWorker, KeyringDep, TenantWork
from tirek.auth import Principal

router = APIRouter(prefix="/v1/cases/{case_id}/consents", tags=["consents"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConsentOut)
async def give_consent(
    case_id: uuid.UUID,
    data: ConsentIn,
    principal: CaseWorker,
    work: TenantWork,
    keyring: KeyringDep,
) -> ConsentOut:
    """Record a consent: purpose, scope, who gave it, how, when, until when."""
    async with work() as session:
        consent = await service.give(
            session=session, principal=principal, case_id=case_id, data=data, keyring=keyring
        )
        return ConsentOut.model_validate(consent)


@router.get("", response_model=list[ConsentOut])
async def list_consents(
    case_id: uuid.UUID,
    principal: CaseWorker,
    work: TenantWork,
    keyring: KeyringDep,
    purpose: Purpose,
) -> list[ConsentOut]:
    """A case's consents. Access-logged (a guardian's name, a reason for withdrawing)."""
    async with work() as session:
        consents = await service.list_for_case(session=session, case_id=case_id, keyring=keyring)
        await _log_read(session, principal, case_id, purpose, "consents.read")
        return [ConsentOut.model_validate(c) for c in consents]


async def _log_read(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    purpose: AccessPurpose,
    operation: str,
) -> None:
    await access_log.record(
        session,
        principal=principal,
        case_ids=[case_id],
        fields=access_log.fields.CONSENTS,
        purpose=purpose,
        operation=operation,
    )


@router.post("/{consent_id}/withdraw", response_model=ConsentOut)
async def withdraw_consent(
    case_id: uuid.UUID,
    consent_id: uuid.UUID,
    request: Request,
    principal: CaseWorker,
    work: TenantWork,
    keyring: KeyringDep,
    purpose: Purpose,
    data: Annotated[ConsentWithdrawal | None, Body()] = None,
) -> ConsentOut:
    """Withdraw a consent. Publishes ``consent.withdrawn`` so every recipient purges its data.
    The answer shows the consent as recorded: access-logged."""
    async with work() as session:
        consent = await service.withdraw(
            session=session,
            case_id=case_id,
            consent_id=consent_id,
            data=data or ConsentWithdrawal(),
            now=request.app.state.clock(),
            keyring=keyring,
        )
        await _log_read(session, principal, case_id, purpose, "consent.withdraw")
        return ConsentOut.model_validate(consent)
