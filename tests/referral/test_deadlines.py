"""Deadlines driven by persisted due dates and an injectable clock (no sleeps): overdue once
per period, also across a restart of the service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from referral.main import create_app
from referral.settings import ReferralSettings
from tests.referral.conftest import Clock, ReferralService

Scan = Callable[[datetime], Awaitable[int]]


async def overdue_periods(referral: ReferralService, referral_id: str) -> list[int]:
    return [
        p["data"]["period"]
        for t, p in await referral.events(referral_id)
        if t == "referral.overdue"
    ]


async def restart_and_scan(settings: ReferralSettings, clock: Clock) -> None:
    """Start a new instance of the service on the same database and broker (it scans once
    at start-up), scan again explicitly, and stop it."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        await app.state.scan_deadlines(clock())
        await app.state.relay.publish_pending()


async def test_an_unanswered_referral_is_overdue_once_per_period_also_across_restarts(
    referral: ReferralService, referral_settings: ReferralSettings, clock: Clock
) -> None:
    sent = await referral.sent()
    scan: Scan = referral.app.state.scan_deadlines

    clock.advance(timedelta(hours=71))
    await scan(clock())
    assert await overdue_periods(referral, sent["id"]) == [], "overdue before 72 hours"

    clock.advance(timedelta(hours=2))
    await scan(clock())
    await scan(clock())
    assert await overdue_periods(referral, sent["id"]) == [1]

    await restart_and_scan(referral_settings, clock)
    assert await overdue_periods(referral, sent["id"]) == [1], "a restart announced period 1 again"

    clock.advance(timedelta(hours=72))
    await restart_and_scan(referral_settings, clock)
    await restart_and_scan(referral_settings, clock)
    await scan(clock())
    assert await overdue_periods(referral, sent["id"]) == [1, 2]

    await referral.wait_published()
    on_stream = [
        e["data"]["period"]
        for e in await referral.stream_events(sent["id"])
        if e["type"] == "referral.overdue"
    ]
    assert on_stream == [1, 2], "the overdue events did not reach the stream once each"

    # Answered: no further period is announced.
    await referral.act("osh-caseworker", sent["id"], "accept", {"responsible_user": "u-3"})
    clock.advance(timedelta(hours=72))
    await scan(clock())
    assert await overdue_periods(referral, sent["id"]) == [1, 2]


async def test_an_urgent_referral_is_overdue_after_24_hours(
    referral: ReferralService, clock: Clock
) -> None:
    sent = await referral.sent(urgency="urgent")
    scan: Scan = referral.app.state.scan_deadlines
    clock.advance(timedelta(hours=23))
    await scan(clock())
    assert await overdue_periods(referral, sent["id"]) == []
    clock.advance(timedelta(hours=2))
    await scan(clock())
    assert await overdue_periods(referral, sent["id"]) == [1]
    events = dict(await referral.events(sent["id"]))
    sent_event = events["referral.sent"]["data"]
    assert sent_event["urgency"] == "urgent"


async def test_a_planned_return_without_arrival_is_overdue_once_48_hours_after_its_date(
    referral: ReferralService, referral_settings: ReferralSettings, clock: Clock
) -> None:
    scan: Scan = referral.app.state.scan_deadlines
    late, on_time = await referral.sent(), await referral.sent()
    for sent in (late, on_time):
        await referral.act("osh-caseworker", sent["id"], "accept", {"responsible_user": "u-4"})
        response = await referral.client.post(
            f"/v1/referrals/{sent['id']}/return",
            headers=await referral.auth("osh-caseworker"),
            json={"planned_date": clock().date().isoformat()},
        )
        assert response.status_code == 201, response.text
    arrived = await referral.client.post(
        f"/v1/referrals/{on_time['id']}/return/arrived",
        headers=await referral.auth("osh-caseworker"),
        json={},
    )
    assert arrived.status_code == 200, arrived.text

    clock.advance(timedelta(hours=49))
    await scan(clock())
    await restart_and_scan(referral_settings, clock)
    clock.advance(timedelta(hours=72))
    await scan(clock())

    def returns_overdue(events: list[tuple[str, dict[str, object]]]) -> int:
        return sum(1 for t, _ in events if t == "return.overdue")

    assert returns_overdue(await referral.events(late["id"])) == 1
    assert returns_overdue(await referral.events(on_time["id"])) == 0, (
        "a return whose arrival was confirmed was announced overdue"
    )
