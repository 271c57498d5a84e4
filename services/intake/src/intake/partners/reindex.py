"""Give persons registered before partner hints existed their hint values (part of
``python -m intake reindex``; ``--all`` recomputes every person's, e.g. after the name
tables in :mod:`intake.names` or the master key changed)."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.partners import service
from intake.partners.hints import HINT_FIELDS
from intake.partners.models import PartnerHintIndex
from intake.persons.models import Person
from intake.tenants.models import Tenant
from tirek.crypto import KeyProvider
from tirek.db import UnitOfWork


async def reindex_hints(
    sessions: async_sessionmaker[AsyncSession], keys: KeyProvider, *, everyone: bool = False
) -> int:
    """Index persons without hint values (or every person); returns how many got values.

    Persons with no birth date or citizenship get none and are looked at again next time.
    """
    async with UnitOfWork(sessions, None) as session:
        tenant_ids = list(await session.scalars(select(Tenant.id)))
    done = 0
    for tenant_id in tenant_ids:
        async with UnitOfWork(sessions, tenant_id) as session:  # RLS: one NGO at a time
            statement = select(Person)
            if not everyone:
                statement = statement.where(
                    ~exists().where(PartnerHintIndex.person_id == Person.id)
                )
            for person in await session.scalars(statement):
                values = await service.index_person(
                    session,
                    keys=keys,
                    tenant_id=tenant_id,
                    person_id=person.id,
                    person={field: getattr(person, field) for field in HINT_FIELDS},
                    replace=everyone,
                )
                done += bool(values)
    return done
