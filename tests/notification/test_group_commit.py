"""Deliveries are recorded at most once per event, whatever comes twice, fails or crashes.

Events handled together share one transaction (``GroupCommit``); each is acked only once its
own deliveries and inbox marks have committed. A redelivered event (the crash between the
commit and the ack) adds nothing; an event that fails takes none of its neighbours with it;
an event that notified no one left no mark and is planned afresh when it comes again.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import replace

import nats

from notification.deliveries.group_commit import GroupCommit, record
from notification.deliveries.planning import Plan, Planner
from tests.notification.conftest import Auth, Notification
from tests.notification.events import case_registered
from tirek.events import Envelope
from tirek.messaging import read_dead_letters
from tirek.messaging.streams import NOTIFICATION_CASES

#: Marks of these tests' own plans (never the live consumer's).
CONSUMER = "test-group-commit"


async def _plan(notif: Notification, envelope: Envelope) -> Plan:
    planner: Planner = notif.app.state.planner
    plan = await planner.decide(envelope, consumer=CONSUMER)
    assert plan is not None, "the demo caseworker should be notified of a case of theirs"
    return plan


async def _marks(notif: Notification, event_id: uuid.UUID) -> int:
    return await notif.count("inbox", "event_id = :e", e=event_id)


async def test_an_event_recorded_twice_in_a_group_or_again_later_is_recorded_once(
    notif: Notification,
) -> None:
    sessions = notif.app.state.sessions
    akt = await _plan(notif, case_registered("AKT", "akt-caseworker"))
    osh = await _plan(notif, case_registered("OSH", "osh-caseworker"))
    rows = {plan.event_id: sum(len(t.rows) for t in plan.tenants) for plan in (akt, osh)}
    assert all(count >= 2 for count in rows.values()), rows  # inbox and email each

    # A copy of one event delivered in the same batch.
    assert await record(sessions, [akt, osh, akt]) == rows
    # Delivered again after its effect committed (the process died before the ack).
    assert await record(sessions, [osh, akt]) == {}, "a redelivered event was recorded again"
    for plan in (akt, osh):
        count = await notif.count("deliveries", "event_id = :e", e=plan.event_id)
        assert count == rows[plan.event_id]
        assert await _marks(notif, plan.event_id) == 1


async def test_an_event_that_fails_fails_alone_and_leaves_nothing_behind(
    notif: Notification,
) -> None:
    group = GroupCommit(notif.app.state.sessions, CONSUMER)
    good = await _plan(notif, case_registered("JAL", "jal-caseworker"))
    planned = await _plan(notif, case_registered("NUK", "nuk-caseworker"))
    # A row the database refuses (channel is at most 16 characters) fails the shared
    # transaction; its event is then recorded alone, and fails alone.
    (tenant,) = planned.tenants
    broken = replace(
        planned, tenants=(replace(tenant, rows=({**tenant.rows[0], "channel": "x" * 40},)),)
    )

    outcomes = await asyncio.gather(
        group.record(good), group.record(broken), return_exceptions=True
    )

    assert outcomes[0] == sum(len(t.rows) for t in good.tenants), outcomes
    assert isinstance(outcomes[1], Exception), "the broken event was not refused"
    assert await notif.count("deliveries", "event_id = :e", e=good.event_id) >= 2
    # Nothing of the failed event committed, its inbox mark neither: its redelivery (fixed,
    # here) is recorded in full.
    assert await notif.count("deliveries", "event_id = :e", e=planned.event_id) == 0
    assert await _marks(notif, planned.event_id) == 0
    assert await group.record(planned) == len(tenant.rows)


async def test_a_redelivered_event_adds_no_delivery(notif: Notification) -> None:
    event = case_registered("AKT", "akt-caseworker")
    await notif.publish(event)
    await notif.planned(event.id, 2)
    await notif.settled()
    planned = await notif.count("deliveries", "event_id = :e", e=event.id)
    # The same event again, past the stream's duplicate window (as after a crash between the
    # commit and the ack, or a relay that published it twice).
    await notif.publish(event, msg_id=f"again-{event.id}")
    await notif.settled()
    assert await notif.count("deliveries", "event_id = :e", e=event.id) == planned
    assert await _marks(notif, event.id) == 1


async def test_an_event_that_notified_no_one_is_planned_afresh_when_it_comes_again(
    notif: Notification, auth: Auth
) -> None:
    """The decision documented in ``notification.deliveries.planning``: no effect, no mark."""
    admin = await auth("jal-admin")
    newcomer = f"jal-newcomer-{uuid.uuid4().hex[:8]}"
    event = case_registered("JAL", "jal-caseworker", assignee_id=newcomer)
    await notif.publish(event)
    await notif.settled()
    assert await notif.count("deliveries", "event_id = :e", e=event.id) == 0
    assert await _marks(notif, event.id) == 0

    # The assignee becomes a recipient before the event is delivered again: the redelivery
    # notifies, once, as a first delivery at that moment would have.
    response = await notif.client.put(
        f"/v1/recipients/{newcomer}",
        json={"roles": ["caseworker"], "language": "ru", "email": "newcomer@jal.example"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    try:
        await notif.publish(event, msg_id=f"again-{event.id}")
        await notif.planned(event.id, 2)
        await notif.publish(event, msg_id=f"once-more-{event.id}")
        await notif.settled()
        assert await notif.count("deliveries", "event_id = :e", e=event.id) == 2
        assert await _marks(notif, event.id) == 1
    finally:
        await notif.client.delete(f"/v1/recipients/{newcomer}", headers=admin)


async def test_a_hostile_event_in_a_batch_is_dead_lettered_and_its_neighbours_notify(
    notif: Notification,
) -> None:
    before = case_registered("AKT", "akt-caseworker")
    after = case_registered("OSH", "osh-caseworker")
    hostile = case_registered("TLD", "tld-caseworker")
    body = json.loads(hostile.model_dump_json())
    body["data"]["sex"] = "<script>"  # fails the case.registered contract
    js = notif.nc.jetstream()
    for envelope in (before, hostile, after):
        payload = json.dumps(body) if envelope is hostile else envelope.model_dump_json()
        await js.publish(
            notif.naming.subject(envelope.subject_name),
            payload.encode(),
            headers={"Nats-Msg-Id": str(envelope.id)},
        )
    await notif.planned(before.id, 2)
    await notif.planned(after.id, 2)
    await notif.settled()
    assert await notif.count("deliveries", "event_id = :e", e=hostile.id) == 0

    nc = await nats.connect(notif.settings.nats_url)
    try:
        deadline = time.monotonic() + 20
        while True:
            letters = [
                letter
                for letter in await read_dead_letters(nc.jetstream(), notif.naming, limit=5000)
                if letter.json().get("id") == str(hostile.id)
            ]
            if letters or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    finally:
        await nc.close()
    assert [letter.consumer for letter in letters] == [NOTIFICATION_CASES.name], letters
    assert letters[0].reason.startswith("ValidationError"), letters[0].reason
