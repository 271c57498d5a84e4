"""Planning keeps the rules in memory for a while; a rule changed through the API applies at
once all the same."""

from __future__ import annotations

import uuid

from notification.rules.cache import PlanningCache
from tests.notification.conftest import Auth, Notification
from tests.notification.events import case_registered
from tirek.demo.consortium import tenant_by_code

TLD = tenant_by_code("TLD").id
RULE = "case.registered:assignee"


async def _handled(notif: Notification, event_id: uuid.UUID) -> None:
    """Wait until the case handler has recorded the event for TLD (its deliveries, if any,
    commit in that same transaction)."""

    async def done() -> bool:
        return bool(await notif.count("inbox", "event_id = :e", e=event_id))

    await notif.wait_for(f"event {event_id} is handled", done)


async def _set_rule(notif: Notification, auth: Auth, *, enabled: bool) -> None:
    response = await notif.client.put(
        f"/v1/rules/{RULE}", json={"enabled": enabled}, headers=await auth("tld-admin")
    )
    assert response.status_code == 200, response.text


async def test_a_rule_turned_off_through_the_api_stops_notifying_at_once(
    notif: Notification, auth: Auth
) -> None:
    assert notif.settings.rule_cache_seconds > 0, "the test needs the cache on"
    # An event first, so that TLD's rules are in the planner's cache.
    before = case_registered("TLD", assigned_to="tld-caseworker")
    await notif.publish(before)
    await notif.planned(before.id, 1)

    await _set_rule(notif, auth, enabled=False)
    try:
        off = case_registered("TLD", assigned_to="tld-caseworker")
        await notif.publish(off)
        await _handled(notif, off.id)
        delivered = await notif.count("deliveries", "event_id = :e", e=off.id)
        assert delivered == 0, "TLD turned the rule off, yet its caseworker was notified"
    finally:
        await _set_rule(notif, auth, enabled=True)

    on = case_registered("TLD", assigned_to="tld-caseworker")
    await notif.publish(on)
    await notif.planned(on.id, 1)  # turned back on: notified again, without waiting for a TTL


async def test_the_cache_forgets_what_a_concurrent_change_committed() -> None:
    """A value read before an invalidation is not kept: it may be the old one."""
    cache = PlanningCache(60)
    loads = 0

    async def load_while_changed() -> str:
        nonlocal loads
        loads += 1
        cache.invalidate("k")  # the change commits while the old value is being read
        return "old"

    assert await cache.get("k", load_while_changed) == "old"

    async def load_new() -> str:
        nonlocal loads
        loads += 1
        return "new"

    assert await cache.get("k", load_new) == "new"
    assert await cache.get("k", load_new) == "new"
    assert loads == 2, "the value read across the change was kept, or the new one was not"
