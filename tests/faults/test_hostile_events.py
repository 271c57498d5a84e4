"""Hostile events published onto the running platform's streams, mid-load: every durable
consumer (in every service) whose filter takes one dead-letters it with the reason, none
applies it, and the load goes on untouched (a forged ``tenant.suspended`` suspends no one)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from tests.faults.counters import AKT, Table, settle
from tests.faults.load import OSH, Load
from tests.faults.platform import Platform
from tirek.demo.consortium import tenant_by_code
from tirek.events import Envelope
from tirek.events.admin import TenantSuspended
from tirek.events.referral import ReferralAccepted, ReferralService, ReferralState, Urgency
from tirek.messaging import CONSUMERS, read_dead_letters
from tirek.messaging.deadletter import HEADER_ORIGINAL_MSG_ID

JAL = tenant_by_code("JAL").id


def _matches(filter_subject: str, subject: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` the rest."""
    wanted, got = filter_subject.split("."), subject.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(got) > index
        if index >= len(got) or (token != "*" and token != got[index]):
            return False
    return len(wanted) == len(got)


def _accepted(referral_id: uuid.UUID) -> ReferralAccepted:
    return ReferralAccepted(
        referral_id=referral_id,
        referral_number="R-KZ-AKT-2020-000001",
        case_id=uuid.uuid4(),
        sender_tenant=AKT,
        receiver_tenant=OSH,
        services=[ReferralService.RETURN],
        urgency=Urgency.NORMAL,
        state=ReferralState.ACCEPTED,
        at=datetime.now(UTC),
        responsible_user="u",
    )


def _hostile() -> list[tuple[str, str, dict[str, Any], str]]:
    """(what, subject, body, expected reason) of each hostile message."""
    suspended = Envelope.wrap(TenantSuspended(tenant_id=AKT), tenant=JAL, subject=str(AKT))
    accepted = Envelope.wrap(_accepted(uuid.uuid4()), tenant=JAL, subject="r")
    registered_v9 = {**json.loads(accepted.model_dump_json()), "type": "case.registered"}
    registered_v9.update(version=9, source="intake", data={"case_id": str(uuid.uuid4())})
    bad_schema = {**registered_v9, "version": 1, "data": {"case_id": "Айгуль Секретова"}}

    def body(envelope: Envelope) -> dict[str, Any]:
        return dict(json.loads(envelope.model_dump_json()))

    return [
        (
            "tenant.suspended for Aktobe, in Jalal-Abad's name",
            "tirek.admin.tenant.suspended.v1",
            body(suspended),
            "ForgedTenant",
        ),
        (
            "referral.accepted by a tenant that is neither sender nor receiver",
            "tirek.referral.referral.accepted.v1",
            body(accepted),
            "ForgedTenant",
        ),
        (
            "case.registered v9 (no such version)",
            "tirek.intake.case.registered.v9",
            registered_v9,
            "UnknownEventType",
        ),
        (
            "case.registered v1 whose data fails the contract",
            "tirek.intake.case.registered.v1",
            bad_schema,
            "ValidationError",
        ),
        (
            "referral.accepted published on return.planned's subject",
            "tirek.referral.return.planned.v1",
            body(Envelope.wrap(_accepted(uuid.uuid4()), tenant=OSH, subject="r")),
            "SubjectMismatch",
        ),
        (
            "consent.withdrawn v2 (no such version)",
            "tirek.intake.consent.withdrawn.v2",
            {**registered_v9, "type": "consent.withdrawn", "version": 2},
            "UnknownEventType",
        ),
        (
            "assistance.recorded v3 (no such version)",
            "tirek.intake.assistance.recorded.v3",
            {**registered_v9, "type": "assistance.recorded", "version": 3},
            "UnknownEventType",
        ),
        (
            "contact.recorded v1 whose data fails the contract",
            "tirek.intake.contact.recorded.v1",
            {**bad_schema, "type": "contact.recorded"},
            "ValidationError",
        ),
        (
            "share.prepared whose data fails the contract",
            "tirek.intake.share.prepared.v1",
            {**bad_schema, "type": "share.prepared"},
            "ValidationError",
        ),
        (
            "person.erased whose data fails the contract",
            "tirek.intake.person.erased.v1",
            {**bad_schema, "type": "person.erased"},
            "ValidationError",
        ),
        (
            "agreement.granted v7 (no such version)",
            "tirek.admin.agreement.granted.v7",
            {**registered_v9, "type": "agreement.granted", "version": 7, "source": "admin"},
            "UnknownEventType",
        ),
    ]


async def test_hostile_events_are_dead_lettered_by_every_consumer_and_applied_by_none(
    platform: Platform, report: Callable[[Table], None]
) -> None:
    load = Load(platform.urls, platform.issuer, marker=date(2020, 7, 1))
    await load.start()
    await asyncio.sleep(2)
    nc = await platform.connect_nats()
    js = nc.jetstream()
    sent: dict[str, tuple[str, str, str]] = {}  # msg id -> (what, subject, reason)
    for what, subject, body, reason in _hostile():
        msg_id = str(uuid.uuid4())
        await js.publish(
            platform.naming.subject(subject),
            json.dumps(body).encode(),
            headers={"Nats-Msg-Id": msg_id},
        )
        sent[msg_id] = (what, subject, reason)
    expected = {
        (msg_id, spec.name)
        for msg_id, (_, subject, _) in sent.items()
        for spec in CONSUMERS
        if any(_matches(f, subject) for f in spec.filter_subjects)
    }
    await asyncio.sleep(4)
    await load.stop()
    await load.finish()
    rows, settled = await settle(platform, load)

    found: dict[tuple[str, str], str] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while set(found) < expected and loop.time() < deadline:
        for letter in await read_dead_letters(js, platform.naming, limit=10_000):
            msg_id = letter.headers.get(HEADER_ORIGINAL_MSG_ID, "")
            if msg_id in sent:
                found[(msg_id, letter.consumer)] = letter.reason
        await asyncio.sleep(0.5)
    await nc.close()

    notes = [f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}"]
    for msg_id, (what, _, reason) in sent.items():
        consumers = sorted(c for m, c in expected if m == msg_id)
        lettered = sorted(c for m, c in found if m == msg_id)
        notes.append(
            f"{what}: dead-lettered by {len(lettered)} of {len(consumers)} consumers "
            f"({', '.join(lettered)}), reason {reason}"
        )
    table = Table(
        f"hostile events on the streams, mid-load (each of the {len(CONSUMERS)} durable consumers gets some)",
        rows,
        notes,
    )
    report(table)
    assert set(found) == expected, f"missing dead letters: {sorted(expected - set(found))}"
    for (msg_id, consumer), reason in found.items():
        assert reason.startswith(sent[msg_id][2]), f"{consumer}: {reason}"
    assert {c for _, c in expected} == {spec.name for spec in CONSUMERS}, (
        "some consumer of the platform was not sent a hostile event"
    )
    assert not load.failures, load.failures  # a forged suspension would show here as 403s
    assert table.clean, table.markdown()
