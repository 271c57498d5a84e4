"""Transactional outbox: events are written with the state change, published by a relay.

A use case calls :func:`add_to_outbox` inside its unit of work, so the event commits (or rolls
back) with the domain rows; or writes the row with another statement of its own, through
:func:`outbox_cte` and :func:`outbox_params` (one round trip fewer). :class:`OutboxRelay`
publishes committed rows to JetStream with ``Nats-Msg-Id`` = event id and marks them
published in the same transaction that locked them.
A relay that dies between the publish and the commit publishes the row again on its next pass;
the stream drops the copy within its duplicate window, and consumers' inboxes drop it after
that.

Tables (no tenant RLS; see :mod:`tirek.messaging.tables`): ``outbox`` and the migration helper
:func:`create_messaging_tables` are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import asyncpg
import sqlalchemy as sa
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext, api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from tirek.events.envelope import Envelope
from tirek.messaging.naming import Naming
from tirek.messaging.tables import (
    NOTIFY_CHANNEL,
    create_messaging_tables,
    drop_messaging_tables,
    messaging_metadata,
    outbox,
)
from tirek.telemetry import context_from_traceparent, current_traceparent

__all__ = [
    "NOTIFY_CHANNEL",
    "OutboxRelay",
    "add_to_outbox",
    "create_messaging_tables",
    "drop_messaging_tables",
    "messaging_metadata",
    "outbox",
    "outbox_cte",
    "outbox_params",
    "purge_published",
]

_log = logging.getLogger("tirek.messaging.outbox")
_PROPAGATOR: Final = TraceContextTextMapPropagator()
_MAX_ERROR: Final = 500


#: One statement object for every row: SQLAlchemy computes its cache key once (a statement
#: built with ``.values()`` per call had its key computed per call, on every registration).
_INSERT: Final = sa.insert(outbox)


def _row(envelope: Envelope) -> dict[str, Any]:
    """The outbox row of ``envelope``. The current OpenTelemetry context is stored as the
    row's traceparent (and becomes the envelope's ``trace`` when that is empty), so the relay
    continues this trace."""
    traceparent = current_traceparent()
    if envelope.trace is None and traceparent is not None:
        envelope = envelope.model_copy(update={"trace": traceparent})
    return {
        "id": envelope.id,
        "subject_name": envelope.subject_name,
        "payload": envelope.model_dump(mode="json"),
        "traceparent": traceparent or envelope.trace,
    }


async def add_to_outbox(session: AsyncSession, envelope: Envelope) -> None:
    """Write ``envelope`` to the outbox in the session's current transaction."""
    await session.execute(_INSERT, _row(envelope))


def outbox_cte(name: str, *, completed: dict[str, sa.ColumnElement[Any]]) -> sa.CTE:
    """The outbox row of an event as a CTE ``name``, for a statement that writes it with the
    change it announces (:func:`tirek.db.inserts.insert_new_with`'s ``ctes``); its
    parameters: :func:`outbox_params`. Build it once, as a module constant.

    ``completed``: fields of the event's ``data`` that the statement itself computes (a case's
    number, taken from its counter), each an SQL expression that replaces what the envelope
    held for it; the envelope must hold a valid placeholder there.
    """
    payload: sa.ColumnElement[Any] = sa.cast(sa.bindparam(f"{name}_payload", type_=JSONB), JSONB)
    for field, value in completed.items():
        path = sa.literal(["data", field], ARRAY(sa.Text()))
        payload = sa.func.jsonb_set(payload, path, sa.func.to_jsonb(value), type_=JSONB)
    row = sa.select(
        sa.bindparam(f"{name}_id", type_=sa.Uuid()),
        sa.bindparam(f"{name}_subject_name", type_=sa.Text()),
        payload,
        sa.bindparam(f"{name}_traceparent", type_=sa.Text()),
    )
    columns = ["id", "subject_name", "payload", "traceparent"]
    return sa.insert(outbox).from_select(columns, row).cte(name)


def outbox_params(name: str, envelope: Envelope) -> dict[str, Any]:
    """The parameters of :func:`outbox_cte` ``name`` writing ``envelope``."""
    return {f"{name}_{key}": value for key, value in _row(envelope).items()}


async def purge_published(session: AsyncSession, *, older_than: timedelta) -> int:
    """Delete rows published more than ``older_than`` ago; returns how many."""
    result = await session.execute(
        sa.delete(outbox).where(
            outbox.c.published_at < sa.func.now() - sa.literal(older_than, sa.Interval())
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Outcome:
    id: uuid.UUID
    error: str | None = None


class OutboxRelay:
    """Publishes committed outbox rows to JetStream; one per service process is enough.

    Several relays may run against one database (replicas): rows are claimed with
    ``FOR UPDATE SKIP LOCKED``, so each row is published by one relay at a time. Events of one
    batch are published concurrently and may reach the stream in a different order when one
    of them fails and is retried; consumers never rely on order across aggregates.

    In a FastAPI lifespan::

        relay = OutboxRelay(engine=engine, nats=broker.connection, naming=naming)
        await relay.start()
        yield
        await relay.stop()
    """

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        nats: NatsClient | JetStreamContext,
        naming: Naming,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        tracer_provider: TracerProvider | None = None,
        publish_timeout: float = 5.0,
    ) -> None:
        self._engine = engine
        self._js = nats.jetstream() if isinstance(nats, NatsClient) else nats
        self._naming = naming
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._publish_timeout = publish_timeout
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published.

        Rows whose publish failed stay pending with ``attempts`` and ``last_error`` updated.
        """
        async with self._engine.connect() as conn, conn.begin():
            rows = (
                await conn.execute(
                    sa.select(
                        outbox.c.id, outbox.c.subject_name, outbox.c.payload, outbox.c.traceparent
                    )
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.created_at)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            # A cancellation here (the process stopping) rolls the transaction back: the rows
            # stay pending and the next pass republishes them; the stream drops the copies.
            outcomes = await asyncio.gather(*(self._publish(*row) for row in rows))
            await self._record(conn, outcomes)
        published = sum(1 for outcome in outcomes if outcome.error is None)
        if published < len(outcomes):
            _log.warning(
                "outbox publish failed for some events",
                extra={"count": len(outcomes) - published},
            )
        return published

    async def _publish(
        self, event_id: uuid.UUID, subject_name: str, payload: Any, traceparent: str | None
    ) -> _Outcome:
        subject = self._naming.subject(subject_name)
        parent = context_from_traceparent(traceparent) if traceparent else Context()
        with self._tracer.start_as_current_span(
            f"{subject} publish",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": subject,
                "messaging.message.id": str(event_id),
            },
        ) as span:
            headers = {"Nats-Msg-Id": str(event_id), "content-type": "application/json"}
            # The relay's span (child of the writer's) goes on the wire: one trace end to end.
            _PROPAGATOR.inject(headers)
            body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
            try:
                ack: api.PubAck = await self._js.publish(
                    subject, body, timeout=self._publish_timeout, headers=headers
                )
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
                return _Outcome(event_id, f"{type(exc).__name__}: {exc}"[:_MAX_ERROR])
            if ack.duplicate:
                span.set_attribute("tirek.outbox.duplicate", True)
        return _Outcome(event_id)

    @staticmethod
    async def _record(conn: AsyncConnection, outcomes: Sequence[_Outcome]) -> None:
        done = [outcome.id for outcome in outcomes if outcome.error is None]
        if done:
            await conn.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_(done))
                .values(published_at=sa.func.now(), attempts=outbox.c.attempts + 1)
            )
        failed = [outcome for outcome in outcomes if outcome.error is not None]
        if failed:
            await conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == sa.bindparam("event_id"))
                .values(attempts=outbox.c.attempts + 1, last_error=sa.bindparam("error")),
                [{"event_id": outcome.id, "error": outcome.error} for outcome in failed],
            )

    async def run(self) -> None:
        """Publish until cancelled: woken by the outbox trigger's NOTIFY, polling as fallback.

        Database or broker outages are logged and retried every ``poll_interval``.
        """
        listener: _Listener | None = None
        try:
            while True:
                if listener is None or listener.closed:
                    listener = await self._listen(listener)
                self._wake.clear()
                try:
                    published = await self.publish_pending()
                except Exception:
                    _log.exception("outbox relay pass failed")
                    published = 0
                self._listening.set()
                if published >= self._batch_size:
                    continue  # more may be waiting
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
                # that arrives as the NOTIFY wakes us, and stop() would wait forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_interval):
                        await self._wake.wait()
        finally:
            if listener is not None:
                await listener.close()

    async def _listen(self, previous: _Listener | None) -> _Listener | None:
        if previous is not None:
            await previous.close()
        try:
            return await _Listener.open(self._engine, self._wake.set)
        except Exception:
            _log.exception("outbox relay cannot LISTEN; polling only until it can")
            return None

    async def start(self) -> None:
        """Start :meth:`run` in a task; returns once the relay listens and did a first pass."""
        if self._task is not None:
            return
        self._listening.clear()
        self._task = asyncio.create_task(self.run(), name="tirek-outbox-relay")
        waiter = asyncio.create_task(self._listening.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._task.done():
            self._task.result()  # re-raise why it stopped

    async def stop(self) -> None:
        """Cancel the relay task and wait for it; a pass in flight is rolled back."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _Listener:
    """A pooled connection held for LISTEN; closed (not returned to the pool) when done."""

    def __init__(self, conn: AsyncConnection, raw: asyncpg.Connection, callback: Any) -> None:
        self._conn = conn
        self._raw = raw
        self._callback = callback

    @classmethod
    async def open(cls, engine: AsyncEngine, wake: Callable[[], None]) -> _Listener:
        conn = await engine.connect()
        try:
            raw = (await conn.get_raw_connection()).driver_connection
            assert isinstance(raw, asyncpg.Connection)

            def callback(*_: object) -> None:
                wake()

            await raw.add_listener(NOTIFY_CHANNEL, callback)
        except BaseException:
            await conn.invalidate()
            await conn.close()
            raise
        return cls(conn, raw, callback)

    @property
    def closed(self) -> bool:
        return bool(self._raw.is_closed())

    async def close(self) -> None:
        # Invalidated, never returned to the pool: a pooled connection must not keep LISTENing.
        with contextlib.suppress(Exception):
            await self._conn.invalidate()
        with contextlib.suppress(Exception):
            await self._conn.close()
