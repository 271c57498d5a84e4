"""A handler failing because the database is unreachable is retried in place: the outage
spends none of the message's bounded deliveries and dead-letters nothing."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from tirek.db import database_unavailable
from tirek.events.envelope import Envelope
from tirek.messaging import (
    STREAMS,
    ConsumerSpec,
    Naming,
    create_broker,
    ensure_streams,
    read_dead_letters,
    subscriber,
)
from tirek.settings import ServiceSettings


@pytest.fixture(scope="module")
def naming(namespace: str) -> Naming:
    return Naming(f"{namespace}out")


@pytest.fixture(scope="module")
async def nc(nats_url: str, naming: Naming) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    for name in STREAMS:
        with contextlib.suppress(Exception):
            await client.jetstream().delete_stream(naming.stream(name))
    await client.close()


def _lost_connection() -> Exception:
    return InterfaceError(
        "SELECT 1", {}, asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
    )


def test_unreachable_databases_are_told_apart_from_bad_statements() -> None:
    refused = OperationalError("connect", {}, ConnectionRefusedError(111, "refused"))
    assert database_unavailable(refused)
    assert database_unavailable(_lost_connection())
    assert database_unavailable(asyncpg.exceptions.CannotConnectNowError("starting up"))
    # The server is there but cannot do the work now: its disk is full.
    full = DBAPIError("INSERT", {}, asyncpg.exceptions.DiskFullError("could not extend file"))
    assert database_unavailable(full)
    assert database_unavailable(asyncpg.exceptions.TooManyConnectionsError("too many clients"))
    assert not database_unavailable(ValueError("no such case"))
    constraint = asyncpg.exceptions.UniqueViolationError("duplicate key")
    assert not database_unavailable(constraint)


async def test_a_database_outage_longer_than_the_retry_budget_dead_letters_nothing(
    nc: Client, naming: Naming, nats_url: str
) -> None:
    js = nc.jetstream()
    # Two deliveries at most: an outage spending deliveries would dead-letter at once.
    spec = ConsumerSpec(
        "test-outage", "ADMIN", ("tirek.admin.outage.>",), max_deliver=2, backoff=(0.05,)
    )
    await ensure_streams(js, naming, consumers=[spec])
    broker: NatsBroker = create_broker(
        ServiceSettings(nats_url=nats_url, service_name="test"), registry=CollectorRegistry()
    )
    calls: list[str] = []
    applied: list[str] = []

    @subscriber(broker, naming, spec, fetch_timeout=0.5, verify=False)
    async def handle(envelope: Envelope) -> None:
        calls.append(envelope.subject)
        if len(calls) <= 4:  # the database is down for the first four tries
            raise _lost_connection()
        applied.append(envelope.subject)

    acks: list[str] = []
    in_progress: list[str] = []

    async def on_ack(msg: Msg) -> None:
        # The reply subject carries acks (empty or +ACK) and "still working" (+WPI) alike.
        (in_progress if msg.data == b"+WPI" else acks).append(msg.subject)

    await nc.subscribe(f"$JS.ACK.{spec.stream_name(naming)}.{spec.durable(naming)}.>", cb=on_ack)
    event = Envelope(
        type="outage.tested", version=1, source="admin", tenant=uuid.uuid4(), subject="s", data={}
    )
    await broker.start()
    try:
        await js.publish(
            naming.subject(event.subject_name),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(event.id)},
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not (applied and acks):
            assert loop.time() < deadline, f"not applied after the outage: {calls}"
            await asyncio.sleep(0.05)
    finally:
        await broker.stop()

    assert calls == ["s"] * 5 and applied == ["s"]
    # $JS.ACK.<stream>.<durable>.<delivered>...: acknowledged on its first delivery.
    assert [int(subject.split(".")[4]) for subject in acks] == [1]
    assert len(in_progress) == 4, "the server was not told the message was still being worked on"
    assert await read_dead_letters(js, naming, consumer=spec.name) == []
