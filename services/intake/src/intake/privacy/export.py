"""The subject-access export: everything intake holds about one person, opened, as JSON."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.assistance import service as assistance
from intake.assistance.schemas import AssistanceOut
from intake.cases.models import Case
from intake.consents import service as consents
from intake.consents.schemas import ConsentOut
from intake.persons import service as persons
from intake.persons.schemas import FamilyLinkOut, PersonOut
from intake.privacy.models import Erasure
from intake.privacy.reveal import reveal
from intake.privacy.schemas import CaseExport, ErasureOut, PersonExport, SharedCopyOut
from intake.shares.models import SharedCopy
from tirek.crypto import Keyring


async def export_person(
    *, session: AsyncSession, keyring: Keyring, person_id: uuid.UUID, now: datetime
) -> PersonExport:
    """The person, their cases with assistance and consents, family links, every share of their
    data with another NGO, and the erasure if there was one. 404 for another NGO's person."""
    person = await persons.get(session=session, person_id=person_id)
    cases = list(
        (
            await session.scalars(
                select(Case).where(Case.person_id == person_id).order_by(Case.opened_on)
            )
        ).unique()
    )
    case_ids = [case.id for case in cases]
    records = await assistance.of_cases(session=session, case_ids=case_ids)
    given = await consents.of_cases(session=session, case_ids=case_ids)
    await reveal(keyring, [person, *cases, *records, *given])
    links = await persons.family_of(session=session, person_id=person_id)
    copies = await session.scalars(
        select(SharedCopy).where(SharedCopy.case_id.in_(case_ids)).order_by(SharedCopy.shared_at)
    )
    erasure = await session.scalar(select(Erasure).where(Erasure.person_id == person_id))
    return PersonExport(
        exported_at=now,
        organisation=person.tenant_id,
        person=PersonOut.model_validate(person),
        cases=[
            CaseExport.model_validate(case).model_copy(
                update={
                    "assistance": [
                        AssistanceOut.model_validate(r) for r in records if r.case_id == case.id
                    ],
                    "consents": [
                        ConsentOut.model_validate(c) for c in given if c.case_id == case.id
                    ],
                }
            )
            for case in cases
        ],
        family_links=[FamilyLinkOut.model_validate(link) for link in links],
        shared_with=[SharedCopyOut.model_validate(copy) for copy in copies],
        erasure=ErasureOut.model_validate(erasure) if erasure is not None else None,
    )
