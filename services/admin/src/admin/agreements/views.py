"""HTTP for sharing agreements: ``/v1/agreements``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from admin.agreements import service
from admin.agreements.models import AgreementStatus
from admin.agreements.schemas import AgreementIn, AgreementOut, RevokeIn
from admin.deps import AdminWork, Now, PlatformAdmin
from tirek.web.params import Offset

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AgreementOut)
async def grant_agreement(
    data: AgreementIn, principal: PlatformAdmin, work: AdminWork, now: Now
) -> AgreementOut:
    """Let one tenant refer cases to another. Publishes ``agreement.granted``."""
    async with work() as session:
        return AgreementOut.model_validate(
            await service.grant(session=session, principal=principal, data=data, now=now)
        )


@router.get("", response_model=list[AgreementOut])
async def list_agreements(
    principal: PlatformAdmin,
    work: AdminWork,
    tenant_id: uuid.UUID | None = None,
    status: AgreementStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    offset: Offset = 0,
) -> list[AgreementOut]:
    async with work() as session:
        agreements = await service.list_agreements(
            session=session, tenant_id=tenant_id, status=status, limit=limit, offset=offset
        )
        return [AgreementOut.model_validate(a) for a in agreements]


@router.post("/{agreement_id}/revoke", response_model=AgreementOut)
async def revoke_agreement(
    agreement_id: uuid.UUID, data: RevokeIn, principal: PlatformAdmin, work: AdminWork, now: Now
) -> AgreementOut:
    """Revoke an agreement. Publishes ``agreement.revoked``."""
    async with work() as session:
        return AgreementOut.model_validate(
            await service.revoke(
                session=session,
                principal=principal,
                agreement_id=agreement_id,
                reason=data.reason,
                now=now,
            )
        )
