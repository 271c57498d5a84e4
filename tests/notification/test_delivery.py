"""From an event on NATS to the inbox, a real SMTP server, a webhook and the Telegram API."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.notification.conftest import Auth, Notification
from tests.notification.events import (
    case_registered,
    email_of,
    referral_accepted,
    referral_overdue,
    referral_sent,
    return_planned,
    user_id,
)
from tests.notification.servers import signature_is_valid


async def _inbox(notif: Notification, auth: Auth, username: str) -> list[dict[str, object]]:
    response = await notif.client.get("/v1/inbox", headers=await auth(username))
    assert response.status_code == 200, response.text
    result: list[dict[str, object]] = response.json()
    return result


async def test_referral_sent_reaches_each_receiving_caseworker_once_in_their_language(
    notif: Notification, auth: Auth
) -> None:
    # OSH's staff read Kyrgyz by default; its admin switches the case manager to Russian and
    # adds an Uzbek-speaking caseworker.
    admin = await auth("osh-admin")
    manager = user_id("osh-manager")
    response = await notif.client.put(
        f"/v1/recipients/{manager}",
        json={"roles": ["case_manager"], "language": "ru", "email": email_of("osh-manager")},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    uzbek = str(uuid.uuid4())
    response = await notif.client.put(
        f"/v1/recipients/{uzbek}",
        json={"roles": ["caseworker"], "language": "uz", "email": "uz-worker@osh.example"},
        headers=admin,
    )
    assert response.status_code == 200, response.text

    event = referral_sent("AKT", "OSH")
    number = event.data["referral_number"]
    await notif.publish(event)
    await notif.planned(event.id, 6)  # three recipients, inbox and email each
    await notif.dispatcher.dispatch_due()

    expected = {
        email_of("osh-caseworker"): "Жаңы жолдомо",  # Kyrgyz
        email_of("osh-manager"): "Новое направление",  # Russian
        "uz-worker@osh.example": "Yangi yoʻllanma",  # Uzbek (Latin)
    }
    for address, subject in expected.items():
        mails = [m for m in notif.smtp.handler.to(address) if number in m.subject]
        assert len(mails) == 1, f"{address} got {len(mails)} emails about {number}, wanted 1"
        assert mails[0].subject.startswith(subject), mails[0].subject
        assert "Сана Сезім" in mails[0].body or "Sana Sezim" in mails[0].body
        assert f"https://tirek.example/referrals/{event.data['referral_id']}" in mails[0].body
    inbox = [m for m in await _inbox(notif, auth, "osh-caseworker") if number in str(m["subject"])]
    assert len(inbox) == 1 and str(inbox[0]["subject"]).startswith("Жаңы жолдомо")
    assert await notif.count("inbox_messages", "subject LIKE :n", n=f"%{number}%") == 3

    # The same event again (a relay that republished after the duplicate window), then an
    # unrelated event behind it: once that one is planned, the duplicate has been handled.
    await notif.publish(event, msg_id=f"again-{event.id}")
    sentinel = referral_sent("AKT", "JAL")
    await notif.publish(sentinel)
    await notif.planned(sentinel.id, 4)
    await notif.dispatcher.dispatch_due()
    assert await notif.count("deliveries", "event_id = :e", e=event.id) == 6
    assert await notif.count("inbox_messages", "subject LIKE :n", n=f"%{number}%") == 3
    for address in expected:
        assert len([m for m in notif.smtp.handler.to(address) if number in m.subject]) == 1


async def test_unread_count_and_mark_read_concern_only_the_callers_messages(
    notif: Notification, auth: Auth
) -> None:
    event = case_registered("NUK", assigned_to="nuk-caseworker")
    await notif.publish(event)
    await notif.planned(event.id, 2)
    await notif.dispatcher.dispatch_due()
    me = await auth("nuk-caseworker")
    count = (await notif.client.get("/v1/inbox/unread-count", headers=me)).json()["unread"]
    assert count >= 1
    message = next(
        m
        for m in await _inbox(notif, auth, "nuk-caseworker")
        if event.data["case_number"] in str(m["subject"])
    )
    assert str(message["subject"]).startswith("Sizga")  # NUK's staff read Uzbek
    # Someone else cannot mark it read, nor see it.
    other = await auth("nuk-manager")
    response = await notif.client.post(f"/v1/inbox/{message['id']}/read", headers=other)
    assert response.status_code == 404
    assert all(m["id"] != message["id"] for m in await _inbox(notif, auth, "nuk-manager"))
    response = await notif.client.post(f"/v1/inbox/{message['id']}/read", headers=me)
    assert response.status_code == 200 and response.json()["read_at"] is not None
    after = (await notif.client.get("/v1/inbox/unread-count", headers=me)).json()["unread"]
    assert after == count - 1


async def test_smtp_server_failing_three_times_then_recovering_delivers_once(
    notif: Notification, auth: Auth
) -> None:
    admin = await auth("tld-admin")
    # Only TLD's caseworker hears of new referrals: its admin turns the managers' rule off.
    response = await notif.client.put(
        "/v1/rules/referral.sent:receiver:case_manager", json={"enabled": False}, headers=admin
    )
    assert response.status_code == 200 and response.json()["enabled"] is False
    address = email_of("tld-caseworker")
    notif.smtp.handler.failures[address] = 3
    event = referral_sent("OSH", "TLD")
    await notif.publish(event)
    await notif.planned(event.id, 2)
    for _ in range(4):
        await notif.dispatcher.dispatch_due()
        notif.clock.advance(timedelta(seconds=notif.settings.retry_cap_seconds))

    number = str(event.data["referral_number"])
    assert len([m for m in notif.smtp.handler.to(address) if number in m.subject]) == 1
    failed = [m for m in notif.smtp.handler.to(email_of("tld-manager")) if number in m.subject]
    assert failed == [], "the rule TLD turned off still notified its case manager"
    deliveries = (
        await notif.client.get("/v1/deliveries?channel=email&limit=500", headers=admin)
    ).json()
    email = next(d for d in deliveries if d["event_id"] == str(event.id))
    assert email["status"] == "sent" and email["attempts"] == 4
    attempts = (
        await notif.client.get(f"/v1/deliveries/{email['id']}/attempts", headers=admin)
    ).json()
    assert [a["ok"] for a in attempts] == [False, False, False, True]
    assert attempts[0]["error"] == "smtp_451"
    sent = await notif.count(
        "outbox",
        "payload->>'type' = 'notification.sent' AND payload->>'subject' = :d",
        d=email["id"],
    )
    assert sent == 1


async def test_an_address_that_never_works_fails_for_good_and_the_admin_sees_it(
    notif: Notification, auth: Auth
) -> None:
    admin = await auth("jal-admin")
    response = await notif.client.put(
        f"/v1/recipients/{user_id('jal-manager')}",
        json={"roles": ["case_manager"], "language": "ky", "email": "never@jal.example"},
        headers=admin,
    )
    assert response.status_code == 200
    notif.smtp.handler.failures["never@jal.example"] = 1000
    event = return_planned("AKT", "JAL")
    await notif.publish(event)
    await notif.planned(event.id, 4)
    for _ in range(notif.settings.max_attempts + 1):
        await notif.dispatcher.dispatch_due()
        notif.clock.advance(timedelta(seconds=notif.settings.retry_cap_seconds))
    failed = (await notif.client.get("/v1/deliveries?status=failed", headers=admin)).json()
    mine = [d for d in failed if d["event_id"] == str(event.id)]
    assert len(mine) == 1 and mine[0]["attempts"] == notif.settings.max_attempts
    assert (
        await notif.count(
            "outbox",
            "payload->>'type' = 'notification.failed' AND payload->>'subject' = :d",
            d=mine[0]["id"],
        )
        == 1
    )
    # The caseworker's email went through meanwhile.
    assert await notif.count("deliveries", "event_id = :e AND status = 'sent'", e=event.id) == 3


async def test_webhook_is_signed_and_telegram_reaches_the_bot_api(
    notif: Notification, auth: Auth
) -> None:
    admin = await auth("akt-admin")
    secret = "akt-webhook-secret-0123456789"
    bot_token = "123456:AKT-test-token"
    response = await notif.client.put(
        "/v1/channels/webhook",
        json={"enabled": True, "url": f"{notif.http.url}/akt-hook", "secret": secret},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    response = await notif.client.put(
        "/v1/channels/telegram", json={"enabled": True, "secret": bot_token}, headers=admin
    )
    assert response.status_code == 200, response.text
    listed = await notif.client.get("/v1/channels", headers=admin)
    assert secret not in listed.text and bot_token not in listed.text
    assert {c["kind"]: c["has_secret"] for c in listed.json()}["webhook"] is True
    response = await notif.client.put(
        f"/v1/recipients/{user_id('akt-caseworker')}",
        json={
            "roles": ["caseworker"],
            "language": "kk",
            "email": email_of("akt-caseworker"),
            "telegram_chat_id": "700100200",
        },
        headers=admin,
    )
    assert response.status_code == 200

    event = referral_accepted("AKT", "OSH", responsible="osh-caseworker")
    number = str(event.data["referral_number"])
    await notif.publish(event)
    # AKT: caseworker (inbox, email, telegram) + manager (inbox, email) + webhook; OSH: the
    # responsible caseworker (inbox, email).
    await notif.planned(event.id, 8)
    await notif.dispatcher.dispatch_due()

    hooks = [r for r in notif.http.to("/akt-hook") if r.json()["event_id"] == str(event.id)]
    assert len(hooks) == 1
    assert signature_is_valid(secret, hooks[0]), "the webhook signature does not verify"
    assert not signature_is_valid("some-other-secret", hooks[0])
    assert number in hooks[0].json()["subject"]
    sent = [
        r
        for r in notif.http.to(f"/telegram/bot{bot_token}/sendMessage")
        if number in r.json()["text"]
    ]
    assert len(sent) == 1 and sent[0].json()["chat_id"] == "700100200"
    assert "қабылданды" in sent[0].json()["text"]  # Kazakh
    responsible = [
        m for m in await _inbox(notif, auth, "osh-caseworker") if number in str(m["subject"])
    ]
    assert len(responsible) == 1


async def test_a_dead_telegram_api_does_not_hold_back_email_or_inbox(
    notif: Notification, auth: Auth
) -> None:
    admin = await auth("akt-admin")
    bot_token = "999999:AKT-slow-token"
    response = await notif.client.put(
        "/v1/channels/telegram", json={"enabled": True, "secret": bot_token}, headers=admin
    )
    assert response.status_code == 200
    notif.http.delays[f"/telegram/bot{bot_token}/sendMessage"] = 5
    try:
        event = referral_accepted("AKT", "TLD", responsible="tld-caseworker")
        await notif.publish(event)
        await notif.planned(event.id, 7)
        await notif.dispatcher.dispatch_due()
        rows = await notif.rows(
            "SELECT channel, status, last_error FROM deliveries "
            "WHERE event_id = :e AND tenant_id = :t",
            e=event.id,
            t=event.data["sender_tenant"],
        )
        by_channel = {(channel, status, error) for channel, status, error in rows}
        assert ("telegram", "pending", "timeout") in by_channel
        assert all(status == "sent" for channel, status, _ in rows if channel != "telegram")
    finally:
        notif.http.delays.clear()


async def test_daily_digest_gathers_held_messages_into_one_email(
    notif: Notification, auth: Auth
) -> None:
    admin = await auth("nuk-admin")
    worker = user_id("nuk-caseworker")
    response = await notif.client.put(
        f"/v1/recipients/{worker}",
        json={
            "roles": ["caseworker"],
            "language": "uz",
            "email": "digest@nuk.example",
            "preferences": {"email": "digest"},
        },
        headers=admin,
    )
    assert response.status_code == 200
    first, second = referral_sent("OSH", "NUK"), referral_sent("TLD", "NUK")
    for event in (first, second):
        await notif.publish(event)
        await notif.planned(event.id, 4)
    await notif.dispatcher.dispatch_due()
    assert notif.smtp.handler.to("digest@nuk.example") == [], "a digest recipient got mail at once"
    notif.clock.advance(timedelta(days=1))
    await notif.dispatcher.dispatch_due()
    mails = notif.smtp.handler.to("digest@nuk.example")
    assert len(mails) == 1
    for event in (first, second):
        assert str(event.data["referral_number"]) in mails[0].body


async def test_overdue_referral_tells_the_coordinators_and_the_receivers_managers(
    notif: Notification, auth: Auth
) -> None:
    event = referral_overdue("NUK", "OSH")
    number = str(event.data["referral_number"])
    await notif.publish(event)
    await notif.planned(event.id, 4)  # coordinator and OSH's manager: inbox and email each
    await notif.dispatcher.dispatch_due()
    [coordinator_mail] = [
        m for m in notif.smtp.handler.to(email_of("coordinator")) if number in m.subject
    ]
    assert coordinator_mail.subject == f"Referral {number} is overdue"  # the coordinator: English
    assert "Istiqbol (Nukus)" in coordinator_mail.body and "Meken (Osh)" in coordinator_mail.body
    caseworker_mail = [
        m for m in notif.smtp.handler.to(email_of("osh-caseworker")) if number in m.subject
    ]
    assert caseworker_mail == [], "overdue referrals go to case managers, not caseworkers"
