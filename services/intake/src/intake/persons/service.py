from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.cases.models import Case
from intake.persons.models import FamilyLink, Person
from intake.persons.schemas import FamilyLinkIn
from tirek.auth import Principal
from tirek.web.problems import BadRequest, NotFound


async def get(*, session: AsyncSession, person_id: uuid.UUID) -> Person:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(title="Person not found", detail="No such person in your organisation.")
    return person


async def link_family(
    *, session: AsyncSession, principal: Principal, person_id: uuid.UUID, data: FamilyLinkIn
) -> FamilyLink:
    """Record that two persons of the same NGO are family (a mother and her child, say)."""
    if data.related_person_id == person_id:
        raise BadRequest(title="Same person", detail="A person cannot be linked to themselves.")
    await get(session=session, person_id=person_id)
    await get(session=session, person_id=data.related_person_id)
    link = FamilyLink(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        person_id=person_id,
        related_person_id=data.related_person_id,
        relation=data.relation.value,
    )
    session.add(link)
    await session.flush()
    return link


async def family_of(*, session: AsyncSession, person_id: uuid.UUID) -> list[FamilyLink]:
    await get(session=session, person_id=person_id)
    rows = await session.scalars(
        select(FamilyLink).where(
            (FamilyLink.person_id == person_id) | (FamilyLink.related_person_id == person_id)
        )
    )
    return list(rows)


async def cases_of(*, session: AsyncSession, person_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """The ids of the cases about any of ``person_ids`` (for the access log)."""
    wanted = list(person_ids)
    if not wanted:
        return []
    return list(await session.scalars(select(Case.id).where(Case.person_id.in_(wanted))))
