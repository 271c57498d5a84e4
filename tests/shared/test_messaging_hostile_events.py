"""Hostile events never reach a handler: the kernel subscriber verifies every message first.

An unknown type or version, data failing its contract, a tenant that is not a party of the
referral it names, or an envelope published on another subject than its own is dead-lettered
on its first delivery with the reason, and the consumer goes on with the next good message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import nats
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client
from prometheus_client import CollectorRegistry

from tirek.events import Envelope, ForgedTenant
from tirek.events.referral import ReferralSent, ReferralService, ReferralState, Urgency
from tirek.messaging import (
    STREAMS,
    ConsumerSpec,
    DeadLetter,
    Naming,
    create_broker,
    ensure_streams,
    read_dead_letters,
    subscriber,
)
from tirek.settings import ServiceSettings

DEADLINE = 15.0
AKT, OSH, JAL = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


@pytest.fixture(scope="module")
def naming(namespace: str) -> Naming:
    return Naming(f"{namespace}he")


@pytest.fixture(scope="module")
async def nc(nats_url: str, naming: Naming) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    for name in STREAMS:
        with contextlib.suppress(Exception):
            await client.jetstream().delete_stream(naming.stream(name))
    await client.close()


def _sent(referral_id: uuid.UUID) -> ReferralSent:
    return ReferralSent(
        referral_id=referral_id,
        referral_number="R-KZ-AKT-2026-000001",
        case_id=uuid.uuid4(),
        sender_tenant=AKT,
        receiver_tenant=OSH,
        services=[ReferralService.RETURN],
        urgency=Urgency.NORMAL,
        state=ReferralState.SENT,
        actor="u",
        at=datetime.now(UTC),
        due_at=datetime.now(UTC),
    )


def _as_json(envelope: Envelope, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(envelope.model_dump_json())
    body.update(changes)
    return body


async def test_hostile_events_are_dead_lettered_with_a_reason_and_the_consumer_goes_on(
    nc: Client, naming: Naming, nats_url: str
) -> None:
    js = nc.jetstream()
    spec = ConsumerSpec("test-hostile", "REFERRAL", ("tirek.referral.referral.>",), max_deliver=5)
    await ensure_streams(js, naming, consumers=[spec])
    broker: NatsBroker = create_broker(
        ServiceSettings(nats_url=nats_url, service_name="test"), registry=CollectorRegistry()
    )
    handled: list[str] = []

    @subscriber(broker, naming, spec, fetch_timeout=0.5)
    async def on_referral(envelope: Envelope) -> None:
        # Like a handler that ignores types it does not act on: it never even sees these.
        handled.append(envelope.subject)

    good = Envelope.wrap(_sent(uuid.uuid4()), tenant=AKT, subject="good")
    template = Envelope.wrap(_sent(uuid.uuid4()), tenant=AKT, subject="x")
    hostile: dict[str, tuple[str, dict[str, Any]]] = {
        "unknown-type": (
            "tirek.referral.referral.teleported.v1",
            _as_json(template, type="referral.teleported", subject="unknown-type"),
        ),
        "unknown-version": (
            "tirek.referral.referral.sent.v9",
            _as_json(template, version=9, subject="unknown-version"),
        ),
        "bad-schema": (
            "tirek.referral.referral.sent.v1",
            _as_json(
                template,
                subject="bad-schema",
                data={**template.data, "due_at": "Айгуль Секретова", "urgency": "whenever"},
            ),
        ),
        "forged-tenant": (
            "tirek.referral.referral.sent.v1",
            _as_json(template, tenant=str(JAL), subject="forged-tenant"),
        ),
        "wrong-subject": (
            "tirek.referral.referral.accepted.v1",
            _as_json(template, subject="wrong-subject"),
        ),
        "not-an-envelope": (
            "tirek.referral.referral.sent.v1",
            {"type": "referral.sent", "data": {"name": "Айгуль Секретова"}},
        ),
    }
    await broker.start()
    try:
        for subject, body in hostile.values():
            await js.publish(
                naming.subject(subject),
                json.dumps(body).encode(),
                headers={"Nats-Msg-Id": str(uuid.uuid4())},
            )
        await js.publish(
            naming.subject(good.subject_name),
            good.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(good.id)},
        )
        letters = await _wait_letters(nc, naming, spec.name, len(hostile))
        await _wait(lambda: handled == ["good"], "the good message after the hostile ones")
    finally:
        await broker.stop()

    assert handled == ["good"], f"hostile events reached the handler: {handled}"
    reasons = {_name_of(letter): letter.reason for letter in letters}
    assert set(reasons) == set(hostile) - {"not-an-envelope"} | {"?"}, reasons
    assert reasons["unknown-type"].startswith("UnknownEventType: referral.teleported v1")
    assert reasons["unknown-version"].startswith("UnknownEventType: referral.sent v9")
    assert reasons["bad-schema"].startswith("ValidationError"), reasons["bad-schema"]
    assert "due_at" in reasons["bad-schema"] and "urgency" in reasons["bad-schema"]
    assert reasons["forged-tenant"].startswith(ForgedTenant.__name__), reasons["forged-tenant"]
    assert reasons["wrong-subject"].startswith("SubjectMismatch"), reasons["wrong-subject"]
    assert reasons["?"].startswith("ValidationError"), reasons["?"]
    for letter in letters:
        assert letter.deliveries == 1, f"{_name_of(letter)} was retried before dead-lettering"
        assert "Айгуль" not in letter.reason and "\\u0410" not in letter.reason
    info = await js.consumer_info(spec.stream_name(naming), spec.durable(naming))
    assert info.num_ack_pending == 0 and info.num_pending == 0


def test_a_referral_event_in_the_name_of_a_third_tenant_does_not_parse() -> None:
    event = _sent(uuid.uuid4())
    for party in (AKT, OSH):
        assert Envelope.wrap(event, tenant=party, subject="s").payload() == event
    with pytest.raises(ForgedTenant):
        Envelope.wrap(event, tenant=JAL, subject="s").payload()


def _name_of(letter: DeadLetter) -> str:
    subject = letter.json().get("subject")
    return subject if isinstance(subject, str) else "?"


async def _wait(check: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        await asyncio.sleep(0.05)


async def _wait_letters(nc: Client, naming: Naming, consumer: str, count: int) -> list[DeadLetter]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while True:
        letters = await read_dead_letters(nc.jetstream(), naming, consumer=consumer)
        if len(letters) >= count:
            return letters
        if loop.time() > deadline:
            pytest.fail(f"{len(letters)} of {count} dead letters of {consumer}")
        await asyncio.sleep(0.1)
