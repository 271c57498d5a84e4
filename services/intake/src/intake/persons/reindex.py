"""Fill the blind indexes of persons registered before they existed (``python -m intake reindex``).

Also the way to rebuild every index after the name tables in :mod:`intake.names` change
(``--all``): the keys of stored names change with them.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.persons.models import Person
from intake.persons.search import NAME_FIELDS, person_indexes
from intake.tenants.models import Tenant
from tirek.crypto import KeyProvider
from tirek.db import UnitOfWork


async def reindex(
    sessions: async_sessionmaker[AsyncSession], keys: KeyProvider, *, everyone: bool = False
) -> int:
    """Index persons with no index yet (or every person); returns how many were indexed."""
    async with UnitOfWork(sessions, None) as session:
        tenant_ids = list(await session.scalars(select(Tenant.id)))
    done = 0
    for tenant_id in tenant_ids:
        async with UnitOfWork(sessions, tenant_id) as session:  # RLS: one NGO at a time
            statement = select(Person)
            if not everyone:
                statement = statement.where(
                    func.cardinality(Person.name_indexes) == 0,
                    func.cardinality(Person.document_indexes) == 0,
                )
            for person in await session.scalars(statement):
                fields = {f: getattr(person, f) for f in (*NAME_FIELDS, "documents")}
                person.name_indexes, person.document_indexes = person_indexes(
                    keys, tenant_id, fields
                )
                done += 1
    return done
