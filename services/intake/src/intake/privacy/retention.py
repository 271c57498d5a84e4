"""Retention: each NGO erases personal data a set number of years after a person's last case
closed, by the same erasure as a request (:func:`intake.privacy.erasure.erase_person`).

What is due is computed from the database alone (:func:`due`: the policy, the cases' closing
dates, who is already erased), so the scheduled job (:func:`run_all`, every
``retention_interval`` seconds in the service, or ``python -m intake retention``) survives
restarts, several instances erase each person once (the person's row is locked and an erased
person skipped), and the dry run (``--dry-run``, ``GET /v1/retention-policy/due``) lists
exactly what the real run erases on the same day.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.cases.models import Case
from intake.persons.models import Person
from intake.privacy.erasure import PersonAlreadyErased, erase_person
from intake.privacy.models import RetentionPolicy
from intake.tenants.models import Tenant
from tirek.crypto import Keyring
from tirek.db import UnitOfWork
from tirek.events.intake import ErasureBasis

_log = logging.getLogger("intake.retention")

#: Who an erasure by retention is recorded as.
RETENTION_ACTOR = "retention"


@dataclass(frozen=True)
class DueErasure:
    """A person whose personal data the policy erases (ids, numbers and dates only)."""

    person_id: uuid.UUID
    case_ids: list[uuid.UUID]
    case_numbers: list[str]
    last_closed_on: date
    due_on: date


def years_after(day: date, years: int) -> date:
    """``day`` moved ``years`` years on (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


async def due(*, session: AsyncSession, tenant: uuid.UUID, today: date) -> list[DueErasure]:
    """Whom the tenant's policy erases on ``today``: persons not yet erased, every case of
    theirs closed, the last one at least the policy's years ago. Oldest first."""
    policy = await session.get(RetentionPolicy, tenant)
    if policy is None or policy.erase_after_years is None:
        return []
    rows = await session.execute(
        select(
            Case.person_id,
            func.array_agg(Case.id),
            func.array_agg(Case.number),
            func.max(Case.closed_on),
        )
        .join(Person, Person.id == Case.person_id)
        .where(Person.erased_at.is_(None))
        .group_by(Case.person_id)
        .having(func.bool_and(Case.closed_on.is_not(None)))
    )
    found = []
    for person_id, case_ids, numbers, last_closed in rows:
        due_on = years_after(last_closed, policy.erase_after_years)
        if due_on <= today:
            found.append(
                DueErasure(person_id, sorted(case_ids), sorted(numbers), last_closed, due_on)
            )
    return sorted(found, key=lambda d: (d.due_on, str(d.person_id)))


async def run(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    tenant: uuid.UUID,
    *,
    today: date,
    now: datetime,
    dry_run: bool = False,
) -> list[DueErasure]:
    """Erase (or, with ``dry_run``, only list) what the tenant's policy makes due; each person
    in a transaction of its own. Returns the persons erased (or that would be)."""
    async with UnitOfWork(sessions, tenant) as session:
        listing = await due(session=session, tenant=tenant, today=today)
    if dry_run:
        return listing
    erased = []
    for item in listing:
        try:
            async with UnitOfWork(sessions, tenant) as session:
                await erase_person(
                    session=session,
                    keyring=keyring,
                    person_id=item.person_id,
                    basis=ErasureBasis.RETENTION,
                    actor=RETENTION_ACTOR,
                    now=now,
                )
        except PersonAlreadyErased:
            continue  # another instance was first
        erased.append(item)
    if erased:
        _log.info(
            "retention erased personal data",
            extra={"tenant_id": str(tenant), "persons": len(erased)},
        )
    return erased


async def tenants(sessions: async_sessionmaker[AsyncSession]) -> list[uuid.UUID]:
    """Every NGO intake knows (the tenant directory has no row-level security)."""
    async with UnitOfWork(sessions, None) as session:
        return list(await session.scalars(select(Tenant.id).order_by(Tenant.id)))


async def run_all(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    *,
    today: date,
    now: datetime,
    dry_run: bool = False,
) -> dict[uuid.UUID, list[DueErasure]]:
    """:func:`run` for every NGO; only NGOs with something due appear in the answer."""
    done = {}
    for tenant in await tenants(sessions):
        erased = await run(sessions, keyring, tenant, today=today, now=now, dry_run=dry_run)
        if erased:
            done[tenant] = erased
    return done
