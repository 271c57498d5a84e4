"""HTTP for family links between persons: ``/v1/persons/{person_id}/family-links``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from intake import access_log
from intake.access_log import Purpose
from intake.deps import CaseWorker, TenantWork
from intake.persons import service
from intake.persons.schemas import FamilyLinkIn, FamilyLinkOut

router = APIRouter(prefix="/v1/persons/{person_id}/family-links", tags=["persons"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=FamilyLinkOut)
async def link_family(
    person_id: uuid.UUID, data: FamilyLinkIn, principal: CaseWorker, work: TenantWork
) -> FamilyLinkOut:
    async with work() as session:
        link = await service.link_family(
            session=session, principal=principal, person_id=person_id, data=data
        )
        return FamilyLinkOut.model_validate(link)


@router.get("", response_model=list[FamilyLinkOut])
async def list_family(
    person_id: uuid.UUID, principal: CaseWorker, work: TenantWork, purpose: Purpose
) -> list[FamilyLinkOut]:
    """A person's family links. Access-logged on the cases of every person they name."""
    async with work() as session:
        links = await service.family_of(session=session, person_id=person_id)
        persons = {person_id} | {
            p for link in links for p in (link.person_id, link.related_person_id)
        }
        await access_log.record(
            session,
            principal=principal,
            case_ids=await service.cases_of(session=session, person_ids=persons),
            fields=access_log.fields.FAMILY_LINKS,
            purpose=purpose,
            operation="family_links.read",
        )
        return [FamilyLinkOut.model_validate(link) for link in links]
