"""Give persons registered before partner hints existed their hint values (part of
``python -m intake reindex``; ``--all`` recomputes every person's, e.g. after the name
tables in :mod:`intake.names` changed). The consortium's key is stored wrapped like every
NGO's keys, so a new master key changes no hint."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.partners import service
from intake.partners.hints import HINT_FIELDS
from intake.partners.models import PartnerHintIndex
from intake.persons.models import Person
from intake.privacy.retention import tenants
from intake.privacy.reveal import reveal
from tirek.crypto import Keyring
from tirek.db import UnitOfWork


async def reindex_hints(
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring, *, everyone: bool = False
) -> int:
    """Index persons without hint values (or every person); returns how many got values.

    Persons with no birth date or citizenship get none and are looked at again next time.
    """
    consortium = await keyring.consortium()
    done = 0
    for tenant_id in await tenants(sessions):
        async with UnitOfWork(sessions, tenant_id) as session:  # RLS: one NGO at a time
            statement = select(Person).where(Person.erased_at.is_(None))
            if not everyone:
                statement = statement.where(
                    ~exists().where(PartnerHintIndex.person_id == Person.id)
                )
            people = list(await session.scalars(statement))
            await reveal(keyring, people)
            for person in people:
                values = await service.index_person(
                    session,
                    consortium=consortium,
                    tenant_id=tenant_id,
                    person_id=person.id,
                    person={field: getattr(person, field) for field in HINT_FIELDS},
                    replace=everyone,
                )
                done += bool(values)
    return done
