"""Rebuild persons' blind indexes (``python -m intake reindex``).

For persons with no index yet, or every person (``--all``), for instance after the name
tables in :mod:`intake.names` changed (the keys of stored names change with them). The names
are decrypted with the NGO's keys, indexed with its blind-index key and sealed again.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.persons.models import Person
from intake.persons.search import index_person
from intake.privacy.retention import tenants
from intake.privacy.reveal import reveal
from tirek.crypto import Keyring, seal_record
from tirek.db import UnitOfWork


async def reindex(
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring, *, everyone: bool = False
) -> int:
    """Index persons with no index yet (or every person); returns how many were indexed."""
    done = 0
    for tenant_id in await tenants(sessions):
        async with UnitOfWork(sessions, tenant_id) as session:  # RLS: one NGO at a time
            statement = select(Person).where(Person.erased_at.is_(None)).with_for_update()
            if not everyone:
                statement = statement.where(
                    func.cardinality(Person.name_indexes) == 0,
                    func.cardinality(Person.document_indexes) == 0,
                )
            people = list(await session.scalars(statement))
            await reveal(keyring, people)
            keys = await keyring.keys(tenant_id)
            for person in people:
                index_person(person, keys)
                seal_record(person, keys)
                done += 1
    return done
