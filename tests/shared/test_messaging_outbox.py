"""The transactional outbox: committed events reach JetStream once, with their trace."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import nats
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from sqlalchemy import Connection, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from tirek.events.envelope import Envelope
from tirek.messaging import (
    STREAMS,
    ConsumerSpec,
    Naming,
    OutboxRelay,
    add_to_outbox,
    create_broker,
    create_messaging_tables,
    ensure_streams,
    purge_published,
    subscriber,
)
from tirek.messaging.outbox import outbox_cte, outbox_params
from tirek.settings import ServiceSettings
from tirek.telemetry import records_nothing, setup_tracing

DEADLINE = 10.0


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def naming(namespace: str) -> Naming:
    return Naming(f"{namespace}ob")


@pytest.fixture(scope="module")
async def nc(nats_url: str, naming: Naming) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await ensure_streams(js, naming, consumers=[])
    yield client
    for name in STREAMS:
        with contextlib.suppress(Exception):
            await js.delete_stream(naming.stream(name))
    await client.close()


def _migrate(connection: Connection, app_role: str) -> None:
    create_messaging_tables(Operations(MigrationContext.configure(connection)), app_role)


@pytest.fixture(scope="module")
async def database(make_database: Callable[[str], Awaitable[Any]]) -> AsyncIterator[Any]:
    db = await make_database("outbox")
    owner = create_async_engine(db.owner_url)
    async with owner.begin() as conn:
        await conn.run_sync(_migrate, db.app_role)
    await owner.dispose()
    yield db


@pytest.fixture
async def engine(database: Any) -> AsyncIterator[AsyncEngine]:
    """The application role's engine on an empty outbox (the relay serves the whole table)."""
    owner = create_async_engine(database.owner_url)
    async with owner.begin() as conn:
        await conn.execute(text("TRUNCATE outbox"))
    await owner.dispose()
    engine = create_async_engine(database.app_url)
    yield engine
    await engine.dispose()


def _event(event_type: str, *, source: str = "intake") -> Envelope:
    return Envelope(
        type=event_type,
        version=1,
        source=source,
        tenant=uuid.uuid4(),
        subject=str(uuid.uuid4()),
        data={"count": 1},
    )


async def _write(engine: AsyncEngine, envelope: Envelope, *, commit: bool = True) -> None:
    async with AsyncSession(engine) as session:
        async with session.begin():
            await add_to_outbox(session, envelope)
            if not commit:
                await session.rollback()


async def _stored(js: JetStreamContext, naming: Naming, envelope: Envelope) -> int:
    """How many messages the event's stream holds on the event's subject."""
    subject = naming.subject(envelope.subject_name)
    info = await js.stream_info(naming.stream(envelope.source.upper()), subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def _row(engine: AsyncEngine, envelope: Envelope) -> Any:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT published_at, attempts, last_error FROM outbox WHERE id = :id"),
            {"id": envelope.id},
        )
        return result.one_or_none()


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        await asyncio.sleep(0.05)


# --- tests ----------------------------------------------------------------------------------


async def test_committed_event_is_published_once_with_its_id_as_msg_id(
    engine: AsyncEngine, nc: Client, naming: Naming
) -> None:
    js = nc.jetstream()
    envelope = _event("test.committed")
    await _write(engine, envelope)
    relay = OutboxRelay(engine=engine, nats=nc, naming=naming)

    assert await relay.publish_pending() == 1
    assert await relay.publish_pending() == 0, "a published row was picked up again"

    assert await _stored(js, naming, envelope) == 1
    message = await js.get_last_msg(naming.stream("INTAKE"), naming.subject(envelope.subject_name))
    assert message.headers is not None
    assert message.headers["Nats-Msg-Id"] == str(envelope.id)
    assert Envelope.model_validate_json(message.data or b"") == envelope
    row = await _row(engine, envelope)
    assert row.published_at is not None
    assert row.attempts == 1


async def test_rolled_back_event_is_never_published(
    engine: AsyncEngine, nc: Client, naming: Naming
) -> None:
    envelope = _event("test.rolledback")
    await _write(engine, envelope, commit=False)

    relay = OutboxRelay(engine=engine, nats=nc, naming=naming)
    assert await relay.publish_pending() == 0
    assert await _stored(nc.jetstream(), naming, envelope) == 0
    assert await _row(engine, envelope) is None


class _DiesAfterPublishing:
    """A JetStream context whose relay is killed right after the server acknowledged."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self.published = asyncio.Event()

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        await self._js.publish(*args, **kwargs)
        self.published.set()
        await asyncio.Event().wait()  # never returns: the relay is cancelled here


async def test_relay_killed_between_publish_and_commit_republishes_and_stream_drops_the_copy(
    engine: AsyncEngine, nc: Client, naming: Naming
) -> None:
    js = nc.jetstream()
    envelope = _event("test.killed")
    await _write(engine, envelope)
    dying = _DiesAfterPublishing(js)
    doomed = OutboxRelay(engine=engine, nats=dying, naming=naming)  # type: ignore[arg-type]

    task = asyncio.create_task(doomed.publish_pending())
    await asyncio.wait_for(dying.published.wait(), DEADLINE)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert (await _row(engine, envelope)).published_at is None, "marked without a commit"
    assert await _stored(js, naming, envelope) == 1

    restarted = OutboxRelay(engine=engine, nats=nc, naming=naming)
    assert await restarted.publish_pending() == 1

    assert await _stored(js, naming, envelope) == 1, "the stream kept a duplicate"
    assert (await _row(engine, envelope)).published_at is not None


async def test_failed_publish_keeps_the_event_pending_with_the_error(
    engine: AsyncEngine, nc: Client, naming: Naming
) -> None:
    # No stream captures this source's subjects: the server answers "no responders".
    orphan = _event("test.orphan", source="nowhere")
    fine = _event("test.fine")
    await _write(engine, orphan)
    await _write(engine, fine)
    relay = OutboxRelay(engine=engine, nats=nc, naming=naming, publish_timeout=1.0)

    assert await relay.publish_pending() == 1
    assert await relay.publish_pending() == 0

    row = await _row(engine, orphan)
    assert row.published_at is None
    assert row.attempts == 2
    assert row.last_error
    assert (await _row(engine, fine)).published_at is not None


async def test_notify_wakes_the_relay_without_waiting_for_the_poll(
    engine: AsyncEngine, nc: Client, naming: Naming
) -> None:
    js = nc.jetstream()
    relay = OutboxRelay(engine=engine, nats=nc, naming=naming, poll_interval=3600)
    await relay.start()  # returns once it listens and finished its first pass
    try:
        envelope = _event("test.notified")
        await _write(engine, envelope)

        async def published() -> bool:
            return await _stored(js, naming, envelope) == 1

        await _eventually(published, "the relay to be woken by NOTIFY (it polls hourly)")
    finally:
        await relay.stop()


async def _relayed_and_consumed(
    provider: TracerProvider,
    name: str,
    *,
    engine: AsyncEngine,
    nc: Client,
    naming: Naming,
    nats_url: str,
) -> tuple[Envelope, int, tuple[Envelope, int]]:
    """An event written under a "register case" span, relayed, consumed by a broker with
    ``provider``: the event, the span's trace id, and what the handler saw (the envelope and
    its current trace id)."""
    spec = ConsumerSpec(f"test-{name}", "INTAKE", (f"tirek.intake.test.{name}.>",))
    await ensure_streams(nc.jetstream(), naming, consumers=[spec])
    broker = create_broker(
        ServiceSettings(nats_url=nats_url, service_name="test"),
        tracer_provider=provider,
        registry=CollectorRegistry(),
    )
    seen: list[tuple[Envelope, int]] = []

    @subscriber(broker, naming, spec, fetch_timeout=0.5, verify=False)
    async def handle(envelope: Envelope) -> None:
        seen.append((envelope, trace.get_current_span().get_span_context().trace_id))

    with provider.get_tracer("test").start_as_current_span("register case") as use_case:
        envelope = _event(f"test.{name}")
        await _write(engine, envelope)

    await broker.start()
    try:
        relay = OutboxRelay(engine=engine, nats=nc, naming=naming, tracer_provider=provider)
        assert await relay.publish_pending() == 1

        async def consumed() -> bool:
            return bool(seen)

        await _eventually(consumed, "the consumer to receive the event")
    finally:
        await broker.stop()
    assert len(seen) == 1
    return envelope, use_case.get_span_context().trace_id, seen[0]


async def test_trace_stored_with_the_event_continues_through_relay_and_consumer(
    engine: AsyncEngine, nc: Client, naming: Naming, nats_url: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    envelope, trace_id, (received, handler_trace_id) = await _relayed_and_consumed(
        provider, "traced", engine=engine, nc=nc, naming=naming, nats_url=nats_url
    )

    assert received.id == envelope.id
    assert received.trace is not None and f"{trace_id:032x}" in received.trace
    message = await nc.jetstream().get_last_msg(
        naming.stream("INTAKE"), naming.subject(envelope.subject_name)
    )
    assert f"{trace_id:032x}" in (message.headers or {}).get("traceparent", "")
    assert handler_trace_id == trace_id, "the consumer started a new trace"
    spans = [span for span in exporter.get_finished_spans() if span.context.trace_id == trace_id]
    kinds = {span.kind for span in spans}
    assert trace.SpanKind.PRODUCER in kinds, "no relay publish span in the trace"
    assert trace.SpanKind.CONSUMER in kinds, "no consumer span in the trace"


async def test_purge_removes_only_published_rows(
    engine: AsyncEngine, nc: Client, naming: Naming
) -> None:
    published = _event("test.purged")
    await _write(engine, published)
    assert await OutboxRelay(engine=engine, nats=nc, naming=naming).publish_pending() == 1
    pending = _event("test.kept")
    await _write(engine, pending)

    async with AsyncSession(engine) as session, session.begin():
        assert await purge_published(session, older_than=timedelta(0)) == 1

    assert await _row(engine, published) is None
    assert await _row(engine, pending) is not None


#: An event written by a statement of its own, its ``number`` computed by that statement.
_NUMBERED_EVENT = outbox_cte(
    "numbered", completed={"number": func.concat("AKT-", func.lpad(literal("7"), 6, "0"))}
)


async def test_an_event_written_by_another_statement_is_published_as_that_statement_completed_it(
    engine: AsyncEngine, nc: Client, naming: Naming
) -> None:
    envelope = _event("test.numbered").model_copy(update={"data": {"count": 1, "number": ""}})
    async with AsyncSession(engine) as session, session.begin():
        answer = await session.scalar(
            select(literal(42)).add_cte(_NUMBERED_EVENT), outbox_params("numbered", envelope)
        )
    assert answer == 42
    assert await OutboxRelay(engine=engine, nats=nc, naming=naming).publish_pending() == 1

    message = await nc.jetstream().get_last_msg(
        naming.stream("INTAKE"), naming.subject(envelope.subject_name)
    )
    published = Envelope.model_validate_json(message.data or b"")
    assert published.data == {"count": 1, "number": "AKT-000007"}
    assert published.model_copy(update={"data": envelope.data}) == envelope  # nothing else


async def test_where_no_span_is_recorded_the_consumer_still_continues_the_events_trace(
    engine: AsyncEngine, nc: Client, naming: Naming, nats_url: str
) -> None:
    provider = setup_tracing("test")  # no exporter: spans get ids, none is recorded
    assert records_nothing(provider)
    envelope, trace_id, (received, handler_trace_id) = await _relayed_and_consumed(
        provider, "ids", engine=engine, nc=nc, naming=naming, nats_url=nats_url
    )
    assert trace_id != 0 and received.id == envelope.id
    assert handler_trace_id == trace_id, "the consumer started a new trace"
