"""Group commit: events delivered together are projected in one transaction.

The batching is the kernel's (:mod:`tirek.messaging.group_commit`: each event acked once its
own effect committed; a failed group applied again one event at a time). What a group saves
here is a commit (an fsync) and a round trip per event: the inbox rows of the whole group are
claimed in one statement, and each kind of upsert is sent once for all its rows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reporting.projections.projector import (
    SWAP_LOCK,
    Update,
    Upsert,
    apply_event,
    planned_writes,
    receive,
)
from tirek.db import UnitOfWork
from tirek.events import Envelope, ForgedTenant
from tirek.messaging import group_commit as tirek_group_commit

__all__ = ["GroupCommit", "project_one"]

#: The inbox rows of a group in one statement (``tirek.messaging.inbox`` semantics: a row per
#: (consumer, event), the effect applied only where the row is new), with the generations to
#: write to and the lock that holds off a rebuild's swap (see ``projector.receive``).
_RECEIVE_MANY = text(
    "WITH first AS (INSERT INTO inbox (consumer, event_id) "
    "SELECT :consumer, id FROM unnest(:event_ids) AS id "
    "ON CONFLICT DO NOTHING RETURNING event_id) "
    "SELECT set_config('app.all_tenants', 'on', true), pg_advisory_xact_lock_shared(:lock), "
    "g.active, g.building, ARRAY(SELECT event_id FROM first) AS first "
    "FROM projection_generations g WHERE g.id = 1"
).bindparams(bindparam("event_ids", type_=ARRAY(Uuid())))


async def project_one(
    sessions: async_sessionmaker[AsyncSession], consumer: str, envelope: Envelope
) -> None:
    """Apply one delivered event exactly once (inbox) to every open generation."""
    async with UnitOfWork(sessions, None) as session:
        generations = await receive(session, consumer=consumer, event_id=envelope.id)
        if generations:
            await apply_event(session, envelope, generations)


async def _project_many(
    sessions: async_sessionmaker[AsyncSession], consumer: str, envelopes: Sequence[Envelope]
) -> None:
    async with UnitOfWork(sessions, None) as session:
        row = (
            await session.execute(
                _RECEIVE_MANY,
                {
                    "consumer": consumer,
                    "event_ids": [e.id for e in envelopes],
                    "lock": SWAP_LOCK,
                },
            )
        ).one()
        generations = [row.active] if row.building is None else [row.active, row.building]
        first: set[uuid.UUID] = set(row.first)
        # The group's upserts, by statement: they commute, so each statement is sent once
        # for all its rows (Upsert.write_many; a plain update as one executemany).
        grouped: dict[Upsert | Update, list[dict[str, Any]]] = defaultdict(list)
        for envelope in envelopes:
            if envelope.id in first:
                first.discard(envelope.id)  # a copy delivered twice in one group: once
                for write, params in planned_writes(envelope, generations):
                    grouped[write].append(params)
        for write, rows in grouped.items():
            if not isinstance(write, Upsert):
                await session.execute(write.statement, rows)
            # A row left with other owners means one event of the group is forged: the group
            # rolls back and its events are applied one by one, where that one is refused.
            elif await write.write_many(session, rows):
                raise ForgedTenant(f"a group's {write.table.name} rows belong to other tenants")


class GroupCommit(tirek_group_commit.GroupCommit[Envelope, None]):
    """Projects the events of concurrent handler calls of one consumer in shared transactions
    (:class:`tirek.messaging.group_commit.GroupCommit`)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], consumer: str, *, max_group: int = 256
    ) -> None:
        async def many(envelopes: Sequence[Envelope]) -> list[None]:
            await _project_many(sessions, consumer, envelopes)
            return [None] * len(envelopes)

        async def one(envelope: Envelope) -> None:
            await project_one(sessions, consumer, envelope)

        super().__init__(many, one, name=consumer, max_group=max_group)

    async def project(self, envelope: Envelope) -> None:
        """Return once ``envelope``'s effect committed; raise what applying it alone raised."""
        await self.submit(envelope)
