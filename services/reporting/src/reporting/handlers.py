"""Reporting's event handlers: every de-identified event becomes projection upserts.

One consumer per stream family (declared in :mod:`tirek.messaging.streams`); each event is
applied in one transaction together with its inbox row, to every open generation.
"""

from __future__ import annotations

from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reporting.projections.projector import apply_event, receive
from tirek.db import UnitOfWork
from tirek.events import Envelope
from tirek.messaging.broker import subscriber
from tirek.messaging.naming import Naming
from tirek.messaging.streams import (
    REPORTING_ADMIN,
    REPORTING_ASSISTANCE,
    REPORTING_CASES,
    REPORTING_CONTACTS,
    REPORTING_REFERRALS,
    ConsumerSpec,
)

#: Every consumer reporting runs (the rebuild replays the same filters).
CONSUMERS: tuple[ConsumerSpec, ...] = (
    REPORTING_ADMIN,
    REPORTING_CASES,
    REPORTING_ASSISTANCE,
    REPORTING_CONTACTS,
    REPORTING_REFERRALS,
)

#: Messages fetched and handled concurrently per consumer: upserts of one row serialise in
#: PostgreSQL, and every projection is order-tolerant.
BATCH_SIZE = 8


async def project(
    sessions: async_sessionmaker[AsyncSession], consumer: str, envelope: Envelope
) -> None:
    """Apply one delivered event exactly once (inbox) to every open generation."""
    async with UnitOfWork(sessions, None) as session:
        generations = await receive(session, consumer=consumer, event_id=envelope.id)
        if generations:
            await apply_event(session, envelope, generations)


def register_handlers(
    broker: NatsBroker, *, naming: Naming, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for spec in CONSUMERS:
        _register(broker, naming, sessions, spec)


def _register(
    broker: NatsBroker,
    naming: Naming,
    sessions: async_sessionmaker[AsyncSession],
    spec: ConsumerSpec,
) -> None:
    @subscriber(broker, naming, spec, batch_size=BATCH_SIZE)
    async def on_event(envelope: Envelope) -> None:
        await project(sessions, spec.name, envelope)
