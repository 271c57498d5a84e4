"""The partner directory and the sharing agreements, kept from admin's events."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from referral.directory.models import Partner, SharingAgreement
from tirek.events.admin import (
    AgreementGranted,
    AgreementRevoked,
    TenantOnboarded,
    TenantReactivated,
    TenantSuspended,
)


async def apply_admin_event(
    session: AsyncSession,
    payload: TenantOnboarded
    | TenantSuspended
    | TenantReactivated
    | AgreementGranted
    | AgreementRevoked,
    *,
    at: datetime,
) -> None:
    """Bring the directory up to date with one of admin's events (the caller's inbox
    guarantees each is applied once)."""
    if isinstance(payload, TenantOnboarded):
        values: dict[str, Any] = {
            "code": payload.code,
            "country": payload.country,
            "region": payload.region,
            "kind": payload.kind,
            "names": payload.names,
            "languages": payload.languages,
            "services_offered": payload.services_offered,
            "service_areas": payload.service_areas,
            "contact_hours": payload.contact_hours,
            "active": True,
            "updated_at": at,
        }
        await session.execute(
            insert(Partner)
            .values(tenant_id=payload.tenant_id, **values)
            .on_conflict_do_update(index_elements=[Partner.tenant_id], set_=values)
        )
    elif isinstance(payload, TenantSuspended | TenantReactivated):
        partner = await session.get(Partner, payload.tenant_id, with_for_update=True)
        if partner is not None:
            partner.active = isinstance(payload, TenantReactivated)
            partner.updated_at = at
    elif isinstance(payload, AgreementGranted):
        terms: dict[str, Any] = {
            "from_tenant": payload.from_tenant,
            "to_tenant": payload.to_tenant,
            "services": payload.services,
            "valid_from": payload.valid_from,
            "valid_until": payload.valid_until,
            "revoked_at": None,
        }
        await session.execute(
            insert(SharingAgreement)
            .values(id=payload.agreement_id, **terms)
            .on_conflict_do_update(index_elements=[SharingAgreement.id], set_=terms)
        )
    else:
        agreement = await session.get(SharingAgreement, payload.agreement_id, with_for_update=True)
        if agreement is not None:
            agreement.revoked_at = at


async def get_partner(session: AsyncSession, tenant_id: uuid.UUID) -> Partner | None:
    return await session.get(Partner, tenant_id)


async def current_agreements(
    session: AsyncSession, *, from_tenant: uuid.UUID, to_tenant: uuid.UUID | None, today: date
) -> list[SharingAgreement]:
    """Agreements in force today from ``from_tenant`` (to ``to_tenant``, or to anyone)."""
    query = select(SharingAgreement).where(
        SharingAgreement.from_tenant == from_tenant,
        SharingAgreement.revoked_at.is_(None),
        SharingAgreement.valid_from <= today,
        or_(SharingAgreement.valid_until.is_(None), SharingAgreement.valid_until >= today),
    )
    if to_tenant is not None:
        query = query.where(SharingAgreement.to_tenant == to_tenant)
    return list(await session.scalars(query))


def covers(agreements: Iterable[SharingAgreement], services: Iterable[str]) -> bool:
    """Whether the agreements together allow every one of ``services`` (empty list: all)."""
    allowed: set[str] = set()
    for agreement in agreements:
        if not agreement.services:
            return True
        allowed.update(agreement.services)
    wanted = set(services)
    return bool(wanted) and wanted <= allowed


async def may_refer(
    session: AsyncSession,
    *,
    from_tenant: uuid.UUID,
    to_tenant: uuid.UUID,
    services: Iterable[str],
    today: date,
) -> bool:
    """Whether a sharing agreement in force lets ``from_tenant`` refer to ``to_tenant`` for
    every one of ``services``."""
    agreements = await current_agreements(
        session, from_tenant=from_tenant, to_tenant=to_tenant, today=today
    )
    return covers(agreements, services)


async def search(
    session: AsyncSession,
    *,
    country: str | None,
    service: str | None,
    area: str | None,
    limit: int,
) -> list[Partner]:
    """Active NGOs, filtered by country, a service they offer and an area they serve."""
    query = select(Partner).where(Partner.active.is_(True), Partner.kind == "ngo")
    if country:
        query = query.where(Partner.country == country)
    if service:
        query = query.where(Partner.services_offered.contains([service]))
    if area:
        query = query.where(or_(Partner.service_areas.contains([area]), Partner.region == area))
    return list(await session.scalars(query.order_by(Partner.country, Partner.code).limit(limit)))
