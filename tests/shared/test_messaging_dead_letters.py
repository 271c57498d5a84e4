"""Bounded redelivery and dead letters on a real durable consumer (FastStream on JetStream)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
import pydantic
import pytest
from faststream.exceptions import RejectMessage
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from tirek.events.envelope import Envelope
from tirek.messaging import (
    STREAMS,
    ConsumerSpec,
    DeadLetter,
    Naming,
    create_broker,
    describe_failure,
    ensure_streams,
    read_dead_letters,
    subscriber,
)
from tirek.settings import ServiceSettings

DEADLINE = 10.0


@pytest.fixture(scope="module")
def naming(namespace: str) -> Naming:
    return Naming(f"{namespace}dl")


@pytest.fixture(scope="module")
async def nc(nats_url: str, naming: Naming) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    for name in STREAMS:
        with contextlib.suppress(Exception):
            await client.jetstream().delete_stream(naming.stream(name))
    await client.close()


@pytest.fixture
def broker(nats_url: str) -> NatsBroker:
    return create_broker(
        ServiceSettings(nats_url=nats_url, service_name="test"), registry=CollectorRegistry()
    )


def _event(event_type: str, subject: str, data: dict[str, object] | None = None) -> Envelope:
    return Envelope(
        type=event_type,
        version=1,
        source="admin",
        tenant=uuid.uuid4(),
        subject=subject,
        data=data or {},
    )


async def _publish(
    js: JetStreamContext, naming: Naming, subject_name: str, body: bytes, **headers: str
) -> int:
    ack = await js.publish(
        naming.subject(subject_name),
        body,
        headers={"Nats-Msg-Id": str(uuid.uuid4()), **headers},
    )
    return int(ack.seq)


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        await asyncio.sleep(0.05)


async def _letters(
    js: JetStreamContext, naming: Naming, consumer: str, count: int
) -> list[DeadLetter]:
    letters: list[DeadLetter] = []

    async def arrived() -> bool:
        letters[:] = await read_dead_letters(js, naming, consumer=consumer)
        return len(letters) >= count

    await _eventually(arrived, f"{count} dead letter(s) of {consumer}")
    return letters


async def test_failing_message_is_dead_lettered_after_max_deliver_and_the_consumer_goes_on(
    nc: Client, naming: Naming, broker: NatsBroker
) -> None:
    js = nc.jetstream()
    spec = ConsumerSpec(
        "test-retries", "ADMIN", ("tirek.admin.retry.>",), max_deliver=3, backoff=(0.05, 0.1)
    )
    await ensure_streams(js, naming, consumers=[spec])
    attempts: Counter[str] = Counter()
    applied: list[str] = []

    @subscriber(broker, naming, spec, fetch_timeout=0.5, verify=False)
    async def handle(envelope: Envelope) -> None:
        attempts[envelope.subject] += 1
        if envelope.subject == "poison":
            raise RuntimeError("the projection cannot apply this")
        applied.append(envelope.subject)

    poison = _event("retry.tested", "poison")
    await broker.start()
    try:
        sequence = await _publish(
            js, naming, poison.subject_name, poison.model_dump_json().encode()
        )
        (letter,) = await _letters(js, naming, spec.name, 1)

        following = _event("retry.tested", "following")
        await _publish(js, naming, following.subject_name, following.model_dump_json().encode())

        async def went_on() -> bool:
            return applied == ["following"]

        await _eventually(went_on, "the consumer to handle the message after the dead letter")
    finally:
        await broker.stop()

    assert attempts["poison"] == 3, "not delivered exactly max_deliver times"
    assert letter.reason == "RuntimeError: the projection cannot apply this"
    assert letter.deliveries == 3
    assert letter.consumer == spec.name
    assert letter.original_subject == naming.subject(poison.subject_name)
    assert letter.original_stream == naming.stream("ADMIN")
    assert letter.original_sequence == sequence
    assert Envelope.model_validate(letter.json()) == poison
    info = await js.consumer_info(spec.stream_name(naming), spec.durable(naming))
    assert info.num_ack_pending == 0, "the dead-lettered message is still awaiting an ack"


async def test_messages_that_can_never_succeed_are_dead_lettered_at_once_without_their_data(
    nc: Client, naming: Naming, broker: NatsBroker
) -> None:
    js = nc.jetstream()
    spec = ConsumerSpec(
        "test-permanent", "ADMIN", ("tirek.admin.broken.>",), max_deliver=5, backoff=(0.05,)
    )
    await ensure_streams(js, naming, consumers=[spec])
    handled: Counter[str] = Counter()

    @subscriber(broker, naming, spec, fetch_timeout=0.5, verify=False)
    async def handle(envelope: Envelope) -> None:
        handled[envelope.subject] += 1
        if envelope.subject == "rejected":
            try:
                raise ValueError("no such tenant")
            except ValueError as exc:
                raise RejectMessage() from exc
        envelope.payload()  # no contract is registered for this type

    await broker.start()
    try:
        # Not an envelope: the personal data it carries must not leak into the reason.
        await _publish(
            js,
            naming,
            "tirek.admin.broken.shape.v1",
            b'{"type": "broken.shape", "data": {"full_name": "Aigul Sekretova"}}',
        )
        await _publish(
            js,
            naming,
            "tirek.admin.broken.json.v1",
            b"{not json",
            **{"content-type": "application/json"},
        )
        unknown = _event("broken.unknown", "unknown")
        await _publish(js, naming, unknown.subject_name, unknown.model_dump_json().encode())
        rejected = _event("broken.rejected", "rejected")
        await _publish(js, naming, rejected.subject_name, rejected.model_dump_json().encode())

        letters = await _letters(js, naming, spec.name, 4)
    finally:
        await broker.stop()

    by_subject = {letter.original_subject.rsplit(".", 2)[-2]: letter for letter in letters}
    assert {letter.deliveries for letter in letters} == {1}, "a hopeless message was retried"
    assert handled == {"unknown": 1, "rejected": 1}
    shape = by_subject["shape"].reason
    assert "validation" in shape and "tenant" in shape, shape
    assert "Aigul" not in shape and "Sekretova" not in shape, "personal data in the reason"
    assert by_subject["json"].reason.startswith("JSONDecodeError"), by_subject["json"].reason
    assert by_subject["unknown"].reason.startswith("UnknownEventType"), by_subject["unknown"].reason
    assert by_subject["rejected"].reason == "RejectMessage <- ValueError: no such tenant"


async def test_message_no_handler_accepts_is_dead_lettered(
    nc: Client, naming: Naming, broker: NatsBroker
) -> None:
    js = nc.jetstream()
    spec = ConsumerSpec("test-unmatched", "ADMIN", ("tirek.admin.unmatched.>",), max_deliver=3)
    await ensure_streams(js, naming, consumers=[spec])
    handled: list[str] = []
    consumer = subscriber(broker, naming, spec, fetch_timeout=0.5, verify=False)

    # A handler filter that refuses the message: FastStream finds no handler for it.
    @consumer(filter=lambda message: message.headers.get("kind") == "wanted")
    async def handle(envelope: Envelope) -> None:
        handled.append(envelope.subject)

    stray = _event("unmatched.stray", "stray")
    await broker.start()
    try:
        await _publish(js, naming, stray.subject_name, stray.model_dump_json().encode())
        (letter,) = await _letters(js, naming, spec.name, 1)
    finally:
        await broker.stop()

    assert handled == []
    assert letter.deliveries == 1
    assert letter.reason.startswith("SubscriberNotFound"), letter.reason


def test_reason_is_one_short_ascii_line_without_the_input() -> None:
    class Person(pydantic.BaseModel):
        age: int

    with pytest.raises(pydantic.ValidationError) as invalid:
        Person.model_validate({"age": "Тахир Сабиров"})
    reason = describe_failure(invalid.value)
    assert reason == "ValidationError: 1 validation error(s): age: int_parsing"

    cyrillic = describe_failure(RuntimeError("нет\nтакого"))
    assert cyrillic.isascii() and "\n" not in cyrillic
    assert cyrillic.encode().decode("unicode_escape") == "RuntimeError: нет такого"

    assert len(describe_failure(RuntimeError("x" * 5000))) == 300
