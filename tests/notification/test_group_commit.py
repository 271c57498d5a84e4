"""Deliveries are recorded at most once per event, whatever comes twice or crashes.

A redelivered event (the crash between the commit and the ack) adds nothing; an event that
notified no one left no mark and is planned afresh when it comes again.
"""

from __future__ import annotations

import uuid

from notification.deliveries.group_commit import record
from notification.deliveries.planning import Plan, Planner
from tests.notification.conftest import Auth, Notification
from tests.notification.events import case_registered
from tirek.events import Envelope

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
