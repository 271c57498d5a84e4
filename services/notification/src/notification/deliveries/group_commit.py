"""Recording planned deliveries: events delivered together share one transaction.

The batching is the kernel's (:mod:`tirek.messaging.group_commit`: each event acked only once
its deliveries and inbox marks committed; a failed group recorded again one event at a
time). A group claims the inbox marks of all its events in one statement and writes each
tenant's deliveries in one statement (under that tenant's row-level security), whatever the
number of events.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import DateTime, String, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.deliveries.planning import Plan
from tirek.db import UnitOfWork, set_tenant
from tirek.messaging import group_commit as tirek_group_commit

__all__ = ["GroupCommit", "record"]

#: The inbox marks of a group (``tirek.messaging.inbox`` semantics: a row per (consumer,
#: event), the effect written only where the row is new). The inbox has no tenant RLS.
_CLAIM = text(
    "INSERT INTO inbox (consumer, event_id) "
    "SELECT * FROM unnest(CAST(:consumers AS text[]), CAST(:event_ids AS uuid[])) "
    "ON CONFLICT DO NOTHING RETURNING consumer, event_id"
).bindparams(
    bindparam("consumers", type_=ARRAY(String())),
    bindparam("event_ids", type_=ARRAY(Uuid())),
)

#: One tenant's deliveries in one statement, a column array each (a text statement:
#: SQLAlchemy does not cache the compilation of PostgreSQL's ON CONFLICT); the unique
#: constraint on (tenant, event, recipient, channel) drops a repeated one.
_INSERT = text(
    "INSERT INTO deliveries (tenant_id, attempts, id, event_id, event_type, rule_id, "
    "recipient_key, channel, address, language, subject, body, link, status, next_attempt_at) "
    "SELECT CAST(:tenant_id AS uuid), 0, d.* FROM unnest("
    "CAST(:id AS uuid[]), CAST(:event_id AS uuid[]), CAST(:event_type AS text[]), "
    "CAST(:rule_id AS text[]), CAST(:recipient_key AS text[]), CAST(:channel AS text[]), "
    "CAST(:address AS text[]), CAST(:language AS text[]), CAST(:subject AS text[]), "
    "CAST(:body AS text[]), CAST(:link AS text[]), CAST(:status AS text[]), "
    "CAST(:next_attempt_at AS timestamptz[])) AS d "
    "ON CONFLICT DO NOTHING RETURNING event_id"
).bindparams(
    bindparam("tenant_id", type_=Uuid()),
    *(bindparam(name, type_=ARRAY(Uuid())) for name in ("id", "event_id")),
    bindparam("next_attempt_at", type_=ARRAY(DateTime(timezone=True))),
)
#: The columns of :data:`_INSERT` a plan's rows fill, in its order.
_COLUMNS = (
    "id",
    "event_id",
    "event_type",
    "rule_id",
    "recipient_key",
    "channel",
    "address",
    "language",
    "subject",
    "body",
    "link",
    "status",
    "next_attempt_at",
)


async def record(
    sessions: async_sessionmaker[AsyncSession], plans: Sequence[Plan]
) -> dict[uuid.UUID, int]:
    """Record ``plans`` in one transaction; new deliveries by event id (none: already done)."""
    async with UnitOfWork(sessions, None) as session:
        # In one order whatever the group's: two instances claiming the same redelivered
        # events wait for each other instead of deadlocking.
        marks = sorted({(t.mark, p.event_id) for p in plans for t in p.tenants})
        claimed = await session.execute(
            _CLAIM,
            {"consumers": [m for m, _ in marks], "event_ids": [e for _, e in marks]},
        )
        first = {(consumer, event_id) for consumer, event_id in claimed.all()}
        by_tenant: dict[uuid.UUID, list[Mapping[str, Any]]] = defaultdict(list)
        for plan in plans:
            for tenant in plan.tenants:
                if (tenant.mark, plan.event_id) in first:
                    first.discard((tenant.mark, plan.event_id))  # a copy twice in one group
                    by_tenant[tenant.tenant_id].extend(tenant.rows)
        created: Counter[uuid.UUID] = Counter()
        for tenant_id, rows in by_tenant.items():
            await set_tenant(session, tenant_id)  # the deliveries' row-level security
            params: dict[str, Any] = {"tenant_id": tenant_id}
            for name in _COLUMNS:
                params[name] = [row[name] for row in rows]
            inserted = await session.execute(_INSERT, params)
            created.update(event_id for (event_id,) in inserted.all())
        return dict(created)


class GroupCommit(tirek_group_commit.GroupCommit[Plan, int]):
    """Records the plans of concurrent handler calls of one consumer in shared transactions
    (:class:`tirek.messaging.group_commit.GroupCommit`)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], consumer: str, *, max_group: int = 256
    ) -> None:
        async def many(plans: Sequence[Plan]) -> list[int]:
            created = await record(sessions, plans)
            return [created.get(plan.event_id, 0) for plan in plans]

        async def one(plan: Plan) -> int:
            return (await record(sessions, [plan])).get(plan.event_id, 0)

        super().__init__(many, one, name=consumer, max_group=max_group)

    async def record(self, plan: Plan) -> int:
        """Return once ``plan`` has committed (how many deliveries were new); raise what
        recording it alone raised."""
        return await self.submit(plan)
