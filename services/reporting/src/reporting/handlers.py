"""Reporting's event handlers: every de-identified event becomes projection upserts.

One consumer per stream family (declared in :mod:`tirek.messaging.streams`); each event is
applied together with its inbox row, to every open generation, in a transaction shared with
the events delivered with it (:mod:`reporting.projections.group_commit`).
"""

from __future__ import annotations

from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reporting.projections.group_commit import GroupCommit
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

#: Messages fetched and handled concurrently per consumer; their effects commit together
#: (``GroupCommit``), each acked once its own effect has committed. Every projection is
#: order-tolerant, so a group needs no order.
BATCH_SIZE = 100


def register_handlers(
    broker: NatsBroker, *, naming: Naming, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for spec in CONSUMERS:
        _register(broker, naming, GroupCommit(sessions, spec.name), spec)


def _register(broker: NatsBroker, naming: Naming, group: GroupCommit, spec: ConsumerSpec) -> None:
    @subscriber(broker, naming, spec, batch_size=BATCH_SIZE)
    async def on_event(envelope: Envelope) -> None:
        await group.project(envelope)
