"""Rebuild every projection by replaying the streams' history into a fresh generation.

1. Open a new generation (``building``); live handlers now write to it too, so nothing that
   arrives during the replay is missed.
2. Replay, stream by stream, every message the reporting consumers filter, up to each
   stream's last sequence at the start, applying each event once (in-memory de-duplication;
   the projections are idempotent and order-tolerant anyway). What the live consumers
   dead-lettered is skipped again: a message failing the kernel's verification, or an event
   naming a row another tenant owns (each is applied in a savepoint of its batch).
3. Swap: the new generation becomes active in one update (live handlers hold a share lock on
   the generation row while they write, so the swap waits for them), and the old
   generation's rows are deleted.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reporting.handlers import CONSUMERS
from reporting.models import PROJECTIONS, generations
from reporting.projections.projector import (
    PROJECTED_TYPES,
    SWAP_LOCK,
    apply_event,
    writing_all_tenants,
)
from tirek.db import UnitOfWork
from tirek.events import Envelope, ForgedTenant
from tirek.messaging.broker import PERMANENT_ERRORS, verify_event
from tirek.messaging.naming import Naming
from tirek.messaging.streams import ConsumerSpec

__all__ = ["RebuildInProgress", "RebuildResult", "rebuild"]

_log = logging.getLogger("reporting.rebuild")

#: Events applied per transaction during a replay.
_BATCH = 500


class RebuildInProgress(RuntimeError):
    """Another rebuild is filling a generation now."""


@dataclass(frozen=True)
class RebuildResult:
    generation: int
    events: int


async def rebuild(
    sessions: async_sessionmaker[AsyncSession],
    js: JetStreamContext,
    naming: Naming,
    *,
    specs: Sequence[ConsumerSpec] = CONSUMERS,
) -> RebuildResult:
    """Replay history into a fresh generation and make it the active one."""
    generation = await _open(sessions)
    try:
        seen: set[uuid.UUID] = set()
        events = 0
        for spec in specs:
            events += await _replay(sessions, js, naming, spec, generation, seen)
        await _swap(sessions, generation)
    except BaseException:
        await _abandon(sessions, generation)
        raise
    _log.info("projections rebuilt", extra={"generation": generation, "events": events})
    return RebuildResult(generation, events)


async def _open(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with UnitOfWork(sessions, None) as session:
        await writing_all_tenants(session)
        # Handlers that read "no rebuild" must finish before the replay starts reading.
        await session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": SWAP_LOCK})
        row = (
            await session.execute(
                select(generations).where(generations.c.id == 1).with_for_update()
            )
        ).one()
        if row.building is not None:
            raise RebuildInProgress(f"generation {row.building} is being rebuilt")
        generation = int(row.active) + 1
        # Leftovers of an earlier rebuild that died before its swap.
        for table in PROJECTIONS:
            await session.execute(delete(table).where(table.c.generation == generation))
        await session.execute(
            update(generations).where(generations.c.id == 1).values(building=generation)
        )
    return generation


async def _replay(
    sessions: async_sessionmaker[AsyncSession],
    js: JetStreamContext,
    naming: Naming,
    spec: ConsumerSpec,
    generation: int,
    seen: set[uuid.UUID],
) -> int:
    stream = spec.stream_name(naming)
    try:
        await js.stream_info(stream)
    except NotFoundError:
        return 0
    subscription = await js.pull_subscribe(
        spec.subjects(naming)[0],
        stream=stream,
        config=api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=30.0,
            description=f"reporting rebuild of {spec.name}",
        ),
    )
    applied = 0
    try:
        # What the history holds now; later events reach the new generation live.
        remaining = (await subscription.consumer_info()).num_pending or 0
        while remaining > 0:
            messages = await subscription.fetch(min(_BATCH, remaining), timeout=10)
            remaining -= len(messages)
            batch: list[Envelope] = []
            for message in messages:
                try:
                    envelope = verify_event(naming, message.subject, message.data)
                except PERMANENT_ERRORS:
                    continue  # dead-lettered when it was live; nothing to project
                if envelope.type not in PROJECTED_TYPES:
                    continue
                if envelope.id in seen:
                    continue
                seen.add(envelope.id)
                batch.append(envelope)
            async with UnitOfWork(sessions, None) as session:
                await writing_all_tenants(session)
                for envelope in batch:
                    try:
                        async with session.begin_nested():
                            if await apply_event(session, envelope, [generation]):
                                applied += 1
                    except ForgedTenant:
                        continue  # dead-lettered when it was live
    finally:
        await subscription.unsubscribe()
    return applied


async def _swap(sessions: async_sessionmaker[AsyncSession], generation: int) -> None:
    async with UnitOfWork(sessions, None) as session:
        await writing_all_tenants(session)
        # Waits for live handlers writing now; later ones see the new generation.
        await session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": SWAP_LOCK})
        row = (
            await session.execute(
                select(generations).where(generations.c.id == 1).with_for_update()
            )
        ).one()
        await session.execute(
            update(generations)
            .where(generations.c.id == 1)
            .values(active=generation, building=None)
        )
        for table in PROJECTIONS:
            await session.execute(delete(table).where(table.c.generation == row.active))


async def _abandon(sessions: async_sessionmaker[AsyncSession], generation: int) -> None:
    async with UnitOfWork(sessions, None) as session:
        await session.execute(
            update(generations)
            .where(generations.c.id == 1, generations.c.building == generation)
            .values(building=None)
        )
