"""The inbox turns at-least-once delivery into exactly-once effect on a real durable consumer."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tirek.events.envelope import Envelope
from tirek.messaging import (
    STREAMS,
    ConsumerSpec,
    Naming,
    create_broker,
    create_messaging_tables,
    ensure_streams,
    first_delivery,
    subscriber,
)
from tirek.settings import ServiceSettings

DEADLINE = 10.0


@pytest.fixture(scope="module")
def naming(namespace: str) -> Naming:
    return Naming(f"{namespace}ib")


@pytest.fixture(scope="module")
async def nc(nats_url: str, naming: Naming) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    for name in STREAMS:
        with contextlib.suppress(Exception):
            await client.jetstream().delete_stream(naming.stream(name))
    await client.close()


def _migrate(connection: Connection, app_role: str) -> None:
    create_messaging_tables(Operations(MigrationContext.configure(connection)), app_role)
    # The effect a handler applies: one row per applied event.
    connection.execute(text("CREATE TABLE effects (event_id uuid NOT NULL, note text)"))
    connection.execute(text(f'GRANT SELECT, INSERT ON effects TO "{app_role}"'))


@pytest.fixture(scope="module")
async def engine(make_database: Callable[[str], Awaitable[Any]]) -> AsyncIterator[AsyncEngine]:
    db = await make_database("inbox")
    owner = create_async_engine(db.owner_url)
    async with owner.begin() as conn:
        await conn.run_sync(_migrate, db.app_role)
    await owner.dispose()
    engine = create_async_engine(db.app_url)
    yield engine
    await engine.dispose()


async def _count(engine: AsyncEngine, sql: str, **params: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        await asyncio.sleep(0.05)


async def _publish(js: JetStreamContext, naming: Naming, envelope: Envelope) -> None:
    # A fresh Nats-Msg-Id each time: the stream keeps both copies, as after a relay restart
    # beyond the duplicate window.
    await js.publish(
        naming.subject(envelope.subject_name),
        envelope.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(uuid.uuid4())},
    )


def _event(event_type: str) -> Envelope:
    return Envelope(
        type=event_type, version=1, source="admin", tenant=uuid.uuid4(), subject="s", data={}
    )


async def test_first_delivery_is_true_once_per_consumer_and_event(engine: AsyncEngine) -> None:
    event_id = uuid.uuid4()
    async with AsyncSession(engine) as session, session.begin():
        assert await first_delivery(session, consumer="a", event_id=event_id) is True
        assert await first_delivery(session, consumer="a", event_id=event_id) is False
        assert await first_delivery(session, consumer="b", event_id=event_id) is True


async def test_first_delivery_rolls_back_with_the_effect(engine: AsyncEngine) -> None:
    event_id = uuid.uuid4()
    async with AsyncSession(engine) as session:
        async with session.begin():
            assert await first_delivery(session, consumer="a", event_id=event_id)
            await session.rollback()
        async with session.begin():
            assert await first_delivery(session, consumer="a", event_id=event_id), (
                "a rolled-back effect left the event marked as applied"
            )


async def test_event_delivered_twice_to_a_durable_consumer_changes_state_once(
    engine: AsyncEngine, nc: Client, naming: Naming, nats_url: str
) -> None:
    js = nc.jetstream()
    spec = ConsumerSpec("test-inbox-twice", "ADMIN", ("tirek.admin.twice.>",))
    await ensure_streams(js, naming, consumers=[spec])
    sessions = async_sessionmaker(engine)
    broker = create_broker(
        ServiceSettings(nats_url=nats_url, service_name="test"), registry=CollectorRegistry()
    )
    deliveries: list[uuid.UUID] = []

    @subscriber(broker, naming, spec, fetch_timeout=0.5, verify=False)
    async def apply(envelope: Envelope) -> None:
        async with sessions() as session, session.begin():
            if await first_delivery(session, consumer=spec.name, event_id=envelope.id):
                await session.execute(
                    text("INSERT INTO effects (event_id, note) VALUES (:id, 'applied')"),
                    {"id": envelope.id},
                )
        deliveries.append(envelope.id)

    envelope = _event("twice.sent")
    await broker.start()
    try:
        await _publish(js, naming, envelope)
        await _publish(js, naming, envelope)

        async def both_handled() -> bool:
            return len(deliveries) == 2

        await _eventually(both_handled, "both copies to be handled")
    finally:
        await broker.stop()

    applied = await _count(
        engine, "SELECT count(*) FROM effects WHERE event_id = :id", id=envelope.id
    )
    assert applied == 1, f"the effect was applied {applied} times"


async def test_effect_that_failed_is_applied_on_redelivery(
    engine: AsyncEngine, nc: Client, naming: Naming, nats_url: str
) -> None:
    js = nc.jetstream()
    spec = ConsumerSpec("test-inbox-retry", "ADMIN", ("tirek.admin.flaky.>",), backoff=(0.05,))
    await ensure_streams(js, naming, consumers=[spec])
    sessions = async_sessionmaker(engine)
    broker = create_broker(
        ServiceSettings(nats_url=nats_url, service_name="test"), registry=CollectorRegistry()
    )
    attempts: list[int] = []

    @subscriber(broker, naming, spec, fetch_timeout=0.5, verify=False)
    async def apply(envelope: Envelope) -> None:
        attempts.append(1)
        async with sessions() as session, session.begin():
            if await first_delivery(session, consumer=spec.name, event_id=envelope.id):
                await session.execute(
                    text("INSERT INTO effects (event_id, note) VALUES (:id, 'applied')"),
                    {"id": envelope.id},
                )
            if len(attempts) == 1:
                raise ConnectionError("the database went away mid-transaction")

    envelope = _event("flaky.sent")
    await broker.start()
    try:
        await _publish(js, naming, envelope)

        async def applied_once() -> bool:
            return (
                await _count(
                    engine, "SELECT count(*) FROM effects WHERE event_id = :id", id=envelope.id
                )
                == 1
            )

        await _eventually(applied_once, "the redelivered event to be applied")
    finally:
        await broker.stop()

    assert len(attempts) == 2
    inbox_rows = await _count(
        engine, "SELECT count(*) FROM inbox WHERE event_id = :id", id=envelope.id
    )
    assert inbox_rows == 1
