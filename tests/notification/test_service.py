"""The running service: its own dispatcher loop, events on NATS, bad input, row-level security."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from nats.js.errors import NotFoundError

from tests.notification.conftest import Auth, Notification
from tests.notification.events import case_registered, user_id
from tirek.db.rls import tables_without_forced_rls_sql


async def test_dispatcher_loop_delivers_and_notification_sent_reaches_nats(
    notif: Notification, auth: Auth
) -> None:
    await notif.dispatcher.start()
    try:
        event = case_registered("JAL", assigned_to="jal-caseworker")
        await notif.publish(event)

        async def in_inbox() -> bool:
            return (
                await notif.count(
                    "inbox_messages", "subject LIKE :n", n=f"%{event.data['case_number']}%"
                )
                == 1
            )

        await notif.wait_for("the dispatcher loop filled the inbox", in_inbox)

        async def marked_sent() -> bool:
            # The inbox row is written by the send; the delivery is marked (and its
            # notification.sent written to the outbox) just after: stop only once it is.
            rows = await notif.rows(
                "SELECT status FROM deliveries WHERE event_id = :e AND channel = 'inbox'",
                e=event.id,
            )
            return [r[0] for r in rows] == ["sent"]

        await notif.wait_for("the dispatcher marked the delivery sent", marked_sent)
    finally:
        await notif.dispatcher.stop()
    [(delivery_id,)] = await notif.rows(
        "SELECT id FROM deliveries WHERE event_id = :e AND channel = 'inbox'", e=event.id
    )
    js = notif.nc.jetstream()
    stream = notif.naming.stream("NOTIFICATION")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        last = (await js.stream_info(stream)).state.last_seq
        for seq in range(1, last + 1):
            try:
                message = await js.get_msg(stream, seq)
            except NotFoundError:
                continue
            envelope = json.loads(message.data or b"{}")
            if envelope["type"] == "notification.sent" and envelope["subject"] == str(delivery_id):
                assert envelope["data"]["channel"] == "inbox"
                assert envelope["data"]["about_event_id"] == str(event.id)
                return
        await notif.wait_for("a moment passed", _true, timeout=1)
    raise AssertionError("notification.sent never reached the NOTIFICATION stream")


async def _true() -> bool:
    return True


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/recipients/u1", {"roles": [], "language": "ru"}),
        ("PUT", "/v1/recipients/u1", {"roles": ["caseworker"], "language": "de"}),
        ("PUT", "/v1/recipients/u1", {"roles": ["caseworker"], "email": "not-an-address"}),
        ("PUT", "/v1/recipients/u1", {"roles": ["caseworker"], "telegram_chat_id": "@name"}),
        ("PUT", "/v1/recipients/u1", {"roles": ["caseworker"], "preferences": {"sms": "x"}}),
        ("PUT", "/v1/recipients/u1", {"roles": ["caseworker"], "first_name": "Гульнара"}),
        ("PUT", "/v1/recipients/bad%20id", {"roles": ["caseworker"]}),
        ("PUT", "/v1/channels/sms", {"enabled": True}),
        ("PUT", "/v1/channels/webhook", {"enabled": True}),
        ("PUT", "/v1/channels/webhook", {"enabled": True, "url": "ftp://x", "secret": "s" * 20}),
        ("PUT", "/v1/channels/webhook", {"enabled": True, "url": "https://x.example/h"}),
        ("PUT", "/v1/channels/telegram", {"enabled": True}),
        ("PUT", "/v1/channels/email", {"enabled": True, "secret": "s" * 20}),
        ("PUT", "/v1/rules/no-such-rule", {"enabled": False}),
        ("PUT", "/v1/rules/case.registered:assignee", {"enabled": "maybe"}),
        ("GET", "/v1/deliveries?status=lost", None),
        ("GET", "/v1/deliveries?limit=0", None),
        ("GET", "/v1/deliveries/not-a-uuid/attempts", None),
        ("POST", "/v1/inbox/not-a-uuid/read", None),
    ],
)
async def test_bad_input_gets_a_clear_4xx_and_changes_nothing(
    notif: Notification, auth: Auth, method: str, path: str, body: object
) -> None:
    before = await notif.rows(
        "SELECT (SELECT count(*) FROM recipients), (SELECT count(*) FROM channel_configs), "
        "(SELECT count(*) FROM rule_settings)"
    )
    response = await notif.client.request(method, path, json=body, headers=await auth("tld-admin"))
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    after = await notif.rows(
        "SELECT (SELECT count(*) FROM recipients), (SELECT count(*) FROM channel_configs), "
        "(SELECT count(*) FROM rule_settings)"
    )
    assert before == after


async def test_every_tenant_table_has_forced_row_level_security(notif: Notification) -> None:
    assert await notif.rows(tables_without_forced_rls_sql()) == []


async def test_the_application_role_sees_no_rows_without_a_tenant(notif: Notification) -> None:
    from sqlalchemy import text

    from tirek.db import UnitOfWork

    assert user_id("akt-caseworker")
    async with UnitOfWork(notif.app.state.sessions, None) as session:
        for table in ("recipients", "deliveries", "inbox_messages", "channel_configs"):
            count = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert count == 0, f"{table} shows {count} rows with no tenant set"


async def test_a_dispatcher_whose_cancellation_was_lost_still_stops(
    notif: Notification, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python 3.11's asyncio.wait_for loses a cancellation that arrives together with the
    # wake-up it waits for: the loop ran on, and stop() waited for it forever (make test).
    lost: list[bool] = []
    dispatch_due = notif.dispatcher.dispatch_due

    async def losing_the_cancellation() -> int:
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            lost.append(True)
        return await dispatch_due()

    monkeypatch.setattr(notif.dispatcher, "dispatch_due", losing_the_cancellation)
    await notif.dispatcher.start()
    await asyncio.sleep(0.05)
    await asyncio.wait_for(notif.dispatcher.stop(), 10)
    assert lost, "the cancellation never reached the loop"
