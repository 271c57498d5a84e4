"""HTTP for the partner directory: ``/v1/directory``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from referral.deps import AnyUser, AnyWork, Now
from referral.directory import service
from referral.directory.schemas import PartnerOut
from tirek.events.referral import ReferralService

router = APIRouter(prefix="/v1/directory", tags=["directory"])


@router.get("", response_model=list[PartnerOut])
async def search_directory(
    request: Request,
    principal: AnyUser,
    work: AnyWork,
    now: Now,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    service_code: Annotated[ReferralService | None, Query(alias="service")] = None,
    area: Annotated[str | None, Query(max_length=100)] = None,
) -> list[PartnerOut]:
    """Who can receive this person where: NGOs by country, service offered and area served,
    with what your NGO may refer to each under the sharing agreements in force."""
    async with work() as session:
        partners = await service.search(
            session,
            country=country,
            service=service_code.value if service_code else None,
            area=area,
            limit=request.app.state.settings.max_page_size,
        )
        agreements = await service.current_agreements(
            session, from_tenant=principal.tenant_id, to_tenant=None, today=now.date()
        )
        result = []
        for partner in partners:
            mine = [a for a in agreements if a.to_tenant == partner.tenant_id]
            allowed = (
                [s.value for s in ReferralService]
                if any(not a.services for a in mine)
                else sorted({s for a in mine for s in a.services})
            )
            result.append(
                PartnerOut(
                    tenant_id=partner.tenant_id,
                    code=partner.code,
                    country=partner.country,
                    region=partner.region,
                    names=partner.names,
                    languages=partner.languages,
                    services_offered=partner.services_offered,
                    service_areas=partner.service_areas,
                    contact_hours=partner.contact_hours,
                    you_may_refer_for=allowed,
                )
            )
        return result
