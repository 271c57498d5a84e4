"""HTTP for data protection: erasure and export of one person, the retention policy."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from intake import access_log
from intake.access_log import Purpose
from intake.deps import (
    CaseManager,
    CaseWorker,
    KeyringDep,
    RetentionReader,
    Sessions,
    TenantAdmin,
    TenantWork,
    Today,
)
from intake.persons import service as persons
from intake.privacy import retention
from intake.privacy.erasure import erase_person
from intake.privacy.export import export_person
from intake.privacy.models import RetentionPolicy
from intake.privacy.schemas import (
    DueErasureOut,
    DueErasures,
    ErasureIn,
    ErasureOut,
    PersonExport,
    RetentionPolicyIn,
    RetentionPolicyOut,
)
from tirek.db import UnitOfWork
from tirek.events.intake import ErasureBasis
from tirek.web.params import IsoDate
from tirek.web.problems import Unprocessable

router = APIRouter(tags=["data protection"])


@router.post("/v1/persons/{person_id}/erasure", response_model=ErasureOut)
async def erase(
    person_id: uuid.UUID,
    data: ErasureIn,
    request: Request,
    principal: CaseManager,
    work: TenantWork,
    keyring: KeyringDep,
) -> ErasureOut:
    """Erase a person's personal data on their request (case managers only).

    Names, birth date, contacts, documents and every note on their cases go; the cases stay
    with sex, age band, citizenship, categories and dates, so reports do not change.
    ``person.erased`` tells every NGO that received a share package of the person to purge it.
    """
    async with work() as session:
        await persons.get(session=session, person_id=person_id)
        if data.confirm_person_id != person_id:
            raise Unprocessable(
                title="Confirmation does not match",
                detail="confirm_person_id must repeat the id of the person to erase.",
            )
        erasure = await erase_person(
            session=session,
            keyring=keyring,
            person_id=person_id,
            basis=ErasureBasis.REQUEST,
            actor=principal.user_id,
            now=request.app.state.clock(),
        )
        return ErasureOut.model_validate(erasure)


@router.get("/v1/persons/{person_id}/export", response_model=PersonExport)
async def export(
    person_id: uuid.UUID,
    request: Request,
    principal: CaseWorker,
    work: TenantWork,
    keyring: KeyringDep,
    purpose: Purpose,
) -> PersonExport:
    """Everything intake holds about one person, as JSON (a subject-access request; state
    ``X-Access-Purpose: subject_access``). Access-logged for each of the person's cases."""
    async with work() as session:
        exported = await export_person(
            session=session, keyring=keyring, person_id=person_id, now=request.app.state.clock()
        )
        await access_log.record(
            session,
            principal=principal,
            case_ids=[case.id for case in exported.cases],
            fields=(
                *access_log.fields.CASE,
                *access_log.fields.ASSISTANCE,
                *access_log.fields.CONSENTS,
                *access_log.fields.FAMILY_LINKS,
            ),
            purpose=purpose,
            operation="person.export",
        )
        return exported


@router.get("/v1/retention-policy", response_model=RetentionPolicyOut)
async def read_policy(principal: RetentionReader, sessions: Sessions) -> RetentionPolicyOut:
    """How long the NGO keeps personal data after a person's last case closed."""
    async with UnitOfWork(sessions, principal.tenant_id) as session:
        policy = await session.get(RetentionPolicy, principal.tenant_id)
        if policy is None:
            return RetentionPolicyOut(erase_after_years=None)
        return RetentionPolicyOut.model_validate(policy)


@router.put("/v1/retention-policy", response_model=RetentionPolicyOut)
async def set_policy(
    data: RetentionPolicyIn, request: Request, principal: TenantAdmin, sessions: Sessions
) -> RetentionPolicyOut:
    """Set the NGO's retention period (tenant administrators); the retention job erases what
    it makes due (see ``GET /v1/retention-policy/due`` first)."""
    async with UnitOfWork(sessions, principal.tenant_id) as session:
        policy = await session.get(RetentionPolicy, principal.tenant_id)
        if policy is None:
            policy = RetentionPolicy(tenant_id=principal.tenant_id)
            session.add(policy)
        policy.erase_after_years = data.erase_after_years
        policy.updated_by = principal.user_id
        policy.updated_at = request.app.state.clock()
        await session.flush()
        return RetentionPolicyOut.model_validate(policy)


@router.get("/v1/retention-policy/due", response_model=DueErasures)
async def list_due(
    principal: RetentionReader, sessions: Sessions, today: Today, on: IsoDate | None = None
) -> DueErasures:
    """A dry run: the persons the retention job erases on ``on`` (default today), oldest
    first — case ids, numbers and dates only."""
    day = on or today
    async with UnitOfWork(sessions, principal.tenant_id) as session:
        policy = await session.get(RetentionPolicy, principal.tenant_id)
        items = await retention.due(session=session, tenant=principal.tenant_id, today=day)
        return DueErasures(
            on=day,
            erase_after_years=policy.erase_after_years if policy else None,
            items=[DueErasureOut.model_validate(item) for item in items],
        )
