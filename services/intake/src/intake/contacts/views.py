"""HTTP for anonymous contacts: ``/v1/contacts``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from intake.contacts import service
from intake.contacts.schemas import ContactIn, ContactOut
from intake.deps import CaseWorker, KeyringDep, TenantWork
from tirek.web.params import IsoDate

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ContactOut)
async def record_contact(
    data: ContactIn, principal: CaseWorker, work: TenantWork, keyring: KeyringDep
) -> ContactOut:
    """Record an anonymous contact (a hotline call). Publishes ``contact.recorded``."""
    async with work() as session:
        return ContactOut.model_validate(
            await service.record(session=session, principal=principal, data=data, keyring=keyring)
        )


@router.get("", response_model=list[ContactOut])
async def list_contacts(
    principal: CaseWorker,
    work: TenantWork,
    keyring: KeyringDep,
    received_from: IsoDate | None = None,
    received_to: IsoDate | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ContactOut]:
    async with work() as session:
        contacts = await service.list_contacts(
            session=session,
            received_from=received_from,
            received_to=received_to,
            limit=limit,
            keyring=keyring,
        )
        return [ContactOut.model_validate(c) for c in contacts]
