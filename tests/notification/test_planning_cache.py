"""Planning keeps the rules, the tenant directory and each NGO's setup (rules turned off,
channels, recipients) in memory for a while; a change made through the API applies at once
all the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import text

from notification.rules.cache import PlanningCache
from notification.rules.listener import APPLICATION_NAME, SetupListener
from tests.notification.conftest import Auth, Notification
from tests.notification.events import case_registered
from tirek.demo.consortium import tenant_by_code

TLD = tenant_by_code("TLD").id
RULE = "case.registered:assignee"


async def _set_rule(notif: Notification, auth: Auth, *, enabled: bool) -> None:
    response = await notif.client.put(
        f"/v1/rules/{RULE}", json={"enabled": enabled}, headers=await auth("tld-admin")
    )
    assert response.status_code == 200, response.text


async def _channels(notif: Notification, event_id: uuid.UUID) -> list[str]:
    rows = await notif.rows(
        "SELECT channel FROM deliveries WHERE event_id = :e ORDER BY channel", e=event_id
    )
    return [str(channel) for (channel,) in rows]


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
        await notif.settled()
        delivered = await notif.count("deliveries", "event_id = :e", e=off.id)
        assert delivered == 0, "TLD turned the rule off, yet its caseworker was notified"
    finally:
        await _set_rule(notif, auth, enabled=True)

    on = case_registered("TLD", assigned_to="tld-caseworker")
    await notif.publish(on)
    await notif.planned(on.id, 1)  # turned back on: notified again, without waiting for a TTL


async def test_a_recipient_added_or_removed_through_the_api_counts_at_once(
    notif: Notification, auth: Auth
) -> None:
    assert notif.settings.rule_cache_seconds > 0, "the test needs the cache on"
    admin = await auth("tld-admin")
    newcomer = f"tld-newcomer-{uuid.uuid4().hex[:8]}"
    # Not a recipient yet: nobody to tell, and TLD's setup is now in the planner's cache.
    unknown = case_registered("TLD", "tld-caseworker", assignee_id=newcomer)
    await notif.publish(unknown)
    await notif.settled()
    assert await notif.count("deliveries", "event_id = :e", e=unknown.id) == 0

    response = await notif.client.put(
        f"/v1/recipients/{newcomer}",
        json={"roles": ["caseworker"], "language": "ru", "email": "newcomer@tld.example"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    known = case_registered("TLD", "tld-caseworker", assignee_id=newcomer)
    await notif.publish(known)
    await notif.planned(known.id, 2)  # inbox and email, without waiting for a TTL

    response = await notif.client.delete(f"/v1/recipients/{newcomer}", headers=admin)
    assert response.status_code == 204, response.text
    gone = case_registered("TLD", "tld-caseworker", assignee_id=newcomer)
    await notif.publish(gone)
    await notif.settled()
    delivered = await notif.count("deliveries", "event_id = :e", e=gone.id)
    assert delivered == 0, "a recipient removed through the API was still notified"


async def test_a_channel_turned_off_through_the_api_stops_its_deliveries_at_once(
    notif: Notification, auth: Auth
) -> None:
    admin = await auth("tld-admin")
    before = case_registered("TLD", assigned_to="tld-caseworker")
    await notif.publish(before)
    await notif.planned(before.id, 2)
    assert await _channels(notif, before.id) == ["email", "inbox"]

    response = await notif.client.put("/v1/channels/email", json={"enabled": False}, headers=admin)
    assert response.status_code == 200, response.text
    try:
        off = case_registered("TLD", assigned_to="tld-caseworker")
        await notif.publish(off)
        await notif.planned(off.id, 1)
        await notif.settled()
        assert await _channels(notif, off.id) == ["inbox"], "email was off, yet planned"
    finally:
        response = await notif.client.put(
            "/v1/channels/email", json={"enabled": True}, headers=admin
        )
        assert response.status_code == 200, response.text


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


async def test_concurrent_reads_share_one_load_but_not_across_a_change() -> None:
    cache = PlanningCache(60)
    loads: list[str] = []
    release = asyncio.Event()

    def loader(value: str) -> Callable[[], Awaitable[str]]:
        async def load() -> str:
            loads.append(value)
            await release.wait()
            return value

        return load

    # A batch of events of one tenant: one read of its setup.
    first = [asyncio.create_task(cache.get("k", loader("old"))) for _ in range(5)]
    await asyncio.sleep(0)
    assert loads == ["old"], f"{len(loads)} loads for five concurrent reads"
    # A change commits while that read runs: a read started after it does not wait for (and
    # get) the value read before it.
    cache.invalidate("k")
    after = asyncio.create_task(cache.get("k", loader("new")))
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*first) == ["old"] * 5
    assert await after == "new", "a read after the change got the value read before it"
    assert await cache.get("k", loader("newer")) == "new"
    assert loads == ["old", "new"]


async def test_a_read_whose_shared_load_was_cancelled_loads_by_itself() -> None:
    cache = PlanningCache(60)
    started = asyncio.Event()

    async def hang() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    async def load() -> str:
        return "value"

    loader = asyncio.create_task(cache.get("k", hang))
    await started.wait()
    waiter = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    loader.cancel()
    assert await waiter == "value", "a read failed because another read was cancelled"


async def _insert_recipient(notif: Notification, tenant: uuid.UUID, user: str) -> None:
    """As another instance of notification, or ``seed-demo``, would: straight in the database."""
    async with notif.admin_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO recipients (id, tenant_id, user_id, roles, language, email, "
                "preferences, active) VALUES (:id, :t, :u, ARRAY['caseworker'], 'ru', "
                "'direct@tld.example', '{}'::jsonb, true)"
            ),
            {"id": uuid.uuid4(), "t": tenant, "u": user},
        )


async def _delete_recipient(notif: Notification, tenant: uuid.UUID, user: str) -> None:
    async with notif.admin_engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM recipients WHERE tenant_id = :t AND user_id = :u"),
            {"t": tenant, "u": user},
        )


async def test_a_recipient_added_by_another_process_counts_at_once(notif: Notification) -> None:
    assert notif.settings.rule_cache_seconds > 20, "the test must not pass by a TTL running out"
    user = f"tld-direct-{uuid.uuid4().hex[:8]}"
    unknown = case_registered("TLD", "tld-caseworker", assignee_id=user)
    await notif.publish(unknown)
    await notif.settled()  # TLD's setup, without this user, is now in the planner's cache
    assert await notif.count("deliveries", "event_id = :e", e=unknown.id) == 0

    await _insert_recipient(notif, TLD, user)
    try:
        known = case_registered("TLD", "tld-caseworker", assignee_id=user)
        await notif.publish(known)
        await notif.planned(known.id, 2)  # the commit's NOTIFY, not the TTL
    finally:
        await _delete_recipient(notif, TLD, user)
    gone = case_registered("TLD", "tld-caseworker", assignee_id=user)
    await notif.publish(gone)
    await notif.settled()
    assert await notif.count("deliveries", "event_id = :e", e=gone.id) == 0, (
        "a recipient removed by another process was still notified"
    )


async def test_the_listener_reconnects_and_forgets_what_it_may_have_missed(
    notif: Notification,
) -> None:
    listener: SetupListener = notif.app.state.setup_listener
    user = f"tld-missed-{uuid.uuid4().hex[:8]}"
    warm = case_registered("TLD", "tld-caseworker", assignee_id=user)
    await notif.publish(warm)
    await notif.settled()
    # Its connection dies; a change commits before it listens again (its NOTIFY is lost).
    async with notif.admin_engine.begin() as conn:
        killed = await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": APPLICATION_NAME},
        )
        assert killed.all() == [(True,)], "the listener's connection was not found"
    await _insert_recipient(notif, TLD, user)
    try:
        await notif.wait_for("the listener lost its connection", _not(listener.listening))
        await notif.wait_for("the listener listens again", _is(listener.listening))
        missed = case_registered("TLD", "tld-caseworker", assignee_id=user)
        await notif.publish(missed)
        await notif.planned(missed.id, 2)
    finally:
        await _delete_recipient(notif, TLD, user)


def _is(event: asyncio.Event) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return event.is_set()

    return check


def _not(event: asyncio.Event) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not event.is_set()

    return check
