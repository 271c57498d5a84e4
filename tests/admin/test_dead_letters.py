"""Dead letters through the admin API: a poisoned message shows up with its reason; replayed
after the cause is fixed, it is processed once; replays and discards are audited."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from faststream.nats import NatsBroker
from prometheus_client import CollectorRegistry

from tests.admin.conftest import Admin
from tirek.db import UnitOfWork
from tirek.events.envelope import Envelope
from tirek.messaging import ConsumerSpec, create_broker, ensure_streams, first_delivery, subscriber
from tirek.settings import ServiceSettings

Auth = Callable[[str], Awaitable[dict[str, str]]]
DEADLINE = 15.0

#: A real durable consumer of this suite's namespace, quick to give up (two deliveries).
SPEC = ConsumerSpec(
    "admtest-projection", "ADMIN", ("tirek.admin.dlqprobe.>",), max_deliver=2, backoff=(0.05,)
)


class Projection:
    """A consumer whose cause of failure a test can fix; effects recorded through the inbox."""

    def __init__(self) -> None:
        self.broken: set[str] = set()
        self.attempts: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()


@pytest.fixture(scope="module")
async def projection(admin: Admin, nats_url: str) -> AsyncIterator[Projection]:
    await ensure_streams(admin.js, admin.naming, consumers=[SPEC])
    broker: NatsBroker = create_broker(
        ServiceSettings(nats_url=nats_url, service_name="admtest"), registry=CollectorRegistry()
    )
    state = Projection()
    sessions = admin.app.state.sessions

    @subscriber(broker, admin.naming, SPEC, fetch_timeout=0.5, verify=False)
    async def handle(envelope: Envelope) -> None:
        state.attempts[envelope.subject] += 1
        if envelope.subject in state.broken:
            raise RuntimeError("projection cannot place this tenant")
        async with UnitOfWork(sessions, None) as session:
            if await first_delivery(session, consumer=SPEC.name, event_id=envelope.id):
                state.applied[envelope.subject] += 1

    await broker.start()
    try:
        yield state
    finally:
        await broker.stop()


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        await asyncio.sleep(0.1)


async def _poison(
    admin: Admin, projection: Projection, auth: Auth
) -> tuple[Envelope, dict[str, Any]]:
    """Publish an event the projection fails on, and wait for its dead letter in the admin API."""
    subject = f"probe-{uuid.uuid4()}"
    projection.broken.add(subject)
    envelope = Envelope(
        type="dlqprobe.tested",
        version=1,
        source="admin",
        tenant=uuid.uuid4(),
        subject=subject,
        data={},
    )
    await admin.js.publish(
        admin.naming.subject(envelope.subject_name),
        envelope.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(envelope.id)},
    )
    headers = await auth("platform-admin")
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        response = await admin.client.get(
            "/v1/dead-letters", params={"consumer": SPEC.name, "limit": 200}, headers=headers
        )
        assert response.status_code == 200, response.text
        found[:] = [
            letter for letter in response.json() if letter["original_msg_id"] == str(envelope.id)
        ]
        return bool(found)

    await _eventually(listed, "the poisoned message to appear in the admin API")
    return envelope, found[0]


async def test_a_poisoned_message_is_listed_with_its_reason_and_can_be_inspected(
    admin: Admin, projection: Projection, auth: Auth
) -> None:
    envelope, letter = await _poison(admin, projection, auth)

    assert letter["consumer"] == SPEC.name
    assert letter["reason"] == "RuntimeError: projection cannot place this tenant"
    assert letter["deliveries"] == 2
    assert letter["original_subject"] == admin.naming.subject(envelope.subject_name)
    assert letter["resolution"] is None
    detail = await admin.client.get(
        f"/v1/dead-letters/{letter['sequence']}", headers=await auth("platform-admin")
    )
    assert detail.status_code == 200
    assert detail.json()["body"]["id"] == str(envelope.id)


async def test_a_replay_after_the_cause_is_fixed_is_processed_once_and_audited(
    admin: Admin, projection: Projection, auth: Auth
) -> None:
    envelope, letter = await _poison(admin, projection, auth)
    headers = await auth("platform-admin")
    projection.broken.discard(envelope.subject)  # the cause is fixed

    replayed = await admin.client.post(
        f"/v1/dead-letters/{letter['sequence']}/replay",
        json={"reason": "projection fixed"},
        headers=headers,
    )
    again = await admin.client.post(
        f"/v1/dead-letters/{letter['sequence']}/replay", json={"reason": "twice"}, headers=headers
    )

    assert replayed.status_code == 200, replayed.text
    assert again.status_code == 409, "a dead letter must be replayed once"

    async def applied() -> bool:
        return projection.applied[envelope.subject] >= 1

    await _eventually(applied, "the replayed message to be processed")
    resolution = replayed.json()["resolution"]
    assert resolution["action"] == "replayed"
    assert resolution["reason"] == "projection fixed"
    assert resolution["actor"], "the audit must say who replayed it"
    assert projection.applied[envelope.subject] == 1
    assert (
        await admin.count(
            "dead_letter_resolutions",
            "dlq_sequence = :s AND action = 'replayed'",
            s=letter["sequence"],
        )
        == 1
    )
    pending = await admin.client.get(
        "/v1/dead-letters",
        params={"consumer": SPEC.name, "unresolved_only": True, "limit": 200},
        headers=headers,
    )
    assert letter["sequence"] not in [d["sequence"] for d in pending.json()]


async def test_a_discarded_dead_letter_is_audited_and_never_delivered_again(
    admin: Admin, projection: Projection, auth: Auth
) -> None:
    envelope, letter = await _poison(admin, projection, auth)
    headers = await auth("platform-admin")
    attempts = projection.attempts[envelope.subject]

    discarded = await admin.client.post(
        f"/v1/dead-letters/{letter['sequence']}/discard",
        json={"reason": "test probe, no value"},
        headers=headers,
    )
    replay = await admin.client.post(
        f"/v1/dead-letters/{letter['sequence']}/replay", json={"reason": "oops"}, headers=headers
    )

    assert discarded.status_code == 200, discarded.text
    assert discarded.json()["resolution"]["action"] == "discarded"
    assert replay.status_code == 409, "a discarded dead letter must not be replayed"
    assert projection.attempts[envelope.subject] == attempts
    assert projection.applied[envelope.subject] == 0


async def test_dead_letters_are_for_platform_admins_only(admin: Admin, auth: Auth) -> None:
    for user in ("akt-admin", "akt-manager", "coordinator"):
        response = await admin.client.get("/v1/dead-letters", headers=await auth(user))
        assert response.status_code == 403, f"{user} saw the dead letters"


async def test_an_unknown_dead_letter_is_404(admin: Admin, auth: Auth) -> None:
    headers = await auth("platform-admin")
    for path in ("/v1/dead-letters/999999999", "/v1/dead-letters/999999999/discard"):
        if path.endswith("discard"):
            response = await admin.client.post(path, json={"reason": "x"}, headers=headers)
        else:
            response = await admin.client.get(path, headers=headers)
        assert response.status_code == 404, f"{path}: {response.text}"
