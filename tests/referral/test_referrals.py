"""Referrals through the HTTP API, with intake's side of the saga played over real NATS."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.referral.conftest import (
    AKT,
    JAL,
    OSH,
    PACKAGE,
    TLD,
    ReferralService,
    user_id,
)
from tirek.events.intake import ConsentPurpose, ConsentWithdrawn, ShareRefused


async def test_a_referral_goes_from_draft_to_completed_with_a_return_and_every_step_recorded(
    referral: ReferralService,
) -> None:
    draft = await referral.create(services=["return", "reintegration"])
    rid = draft["id"]
    assert draft["state"] == "draft" and draft["number"].startswith("R-KZ-AKT-")
    assert (await referral.act("akt-caseworker", rid, "submit")).json()["state"] == (
        "awaiting_approval"
    )
    approved = await referral.act("akt-manager", rid, "approve")
    assert approved.json()["state"] == "approved", approved.text
    # Before intake's package arrives the receiver does not see the referral at all.
    assert (await referral.get("osh-caseworker", rid)).status_code == 404

    await referral.share(draft)
    await referral.wait_state(rid, "sent")
    incoming = await referral.client.get(
        "/v1/referrals?direction=incoming", headers=await referral.auth("osh-caseworker")
    )
    assert rid in [r["id"] for r in incoming.json()["items"]]

    accepted = await referral.act(
        "osh-caseworker", rid, "accept", {"responsible_user": user_id("osh-caseworker")}
    )
    assert accepted.json()["state"] == "accepted", accepted.text
    assert (await referral.act("osh-manager", rid, "start")).json()["state"] == "in_progress"

    today = referral.clock().date()
    plan = await referral.client.post(
        f"/v1/referrals/{rid}/return",
        headers=await referral.auth("akt-caseworker"),
        json={
            "planned_date": (today + timedelta(days=3)).isoformat(),
            "route": "Aktobe - Almaty - Osh",
            "border_crossing": "Dostuk",
            "transport": "bus",
            "escort": "AKT social worker",
            "documents": ["return certificate"],
            "met_by": "OSH caseworker",
        },
    )
    assert plan.status_code == 201, plan.text
    assert (plan.json()["origin_country"], plan.json()["destination_country"]) == ("KZ", "KG")
    moved = await referral.client.patch(
        f"/v1/referrals/{rid}/return",
        headers=await referral.auth("osh-caseworker"),
        json={"planned_date": today.isoformat(), "transport": "train"},
    )
    assert moved.status_code == 200, moved.text
    arrived = await referral.client.post(
        f"/v1/referrals/{rid}/return/arrived",
        headers=await referral.auth("osh-caseworker"),
        json={"arrived_on": today.isoformat()},
    )
    assert arrived.status_code == 200 and arrived.json()["arrived_on"] == today.isoformat()

    completed = await referral.act(
        "osh-caseworker",
        rid,
        "complete",
        {"outcomes": {"return": "provided", "reintegration": "partially_provided"}},
    )
    assert completed.json()["state"] == "completed", completed.text

    history = await referral.client.get(
        f"/v1/referrals/{rid}/history", headers=await referral.auth("akt-caseworker")
    )
    assert [(h["from_state"], h["to_state"]) for h in history.json()] == [
        (None, "draft"),
        ("draft", "awaiting_approval"),
        ("awaiting_approval", "approved"),
        ("approved", "sent"),
        ("sent", "accepted"),
        ("accepted", "in_progress"),
        ("in_progress", "completed"),
    ]
    assert history.json()[2]["actor"] == user_id("akt-manager")
    assert history.json()[3]["actor"] is None, "sending is the saga's doing, not a user's"

    await referral.wait_published()
    on_stream = [e["type"] for e in await referral.stream_events(rid)]
    assert on_stream == [
        "referral.submitted",
        "referral.approved",
        "referral.sent",
        "referral.accepted",
        "referral.in_progress",
        "return.planned",
        "return.updated",
        "return.arrived",
        "referral.completed",
    ], "the events on the REFERRAL stream are not the flow's, in order"


async def test_the_receiver_sees_the_opened_package_and_the_sender_sees_only_the_status(
    referral: ReferralService,
) -> None:
    sent = await referral.sent()
    as_receiver = (await referral.get("osh-caseworker", sent["id"])).json()
    assert as_receiver["package"]["data"] == PACKAGE
    assert as_receiver["case_id"] is None and as_receiver["consent_id"] is None, (
        "the receiver must not learn the sender's case or consent ids"
    )
    as_sender = await referral.get("akt-caseworker", sent["id"])
    assert as_sender.json()["state"] == "sent"
    assert as_sender.json()["package"] is None
    assert PACKAGE["second_name"] not in as_sender.text, "the sender was shown the package"
    # Stored encrypted under the receiver's data key, never in clear text.
    async with referral.admin_engine.connect() as conn:
        from sqlalchemy import text

        stored = (
            await conn.execute(
                text("SELECT sealed FROM share_packages WHERE referral_id = :r"),
                {"r": sent["id"]},
            )
        ).scalar_one()
    assert stored.startswith("tk1.") and PACKAGE["second_name"] not in stored


async def test_the_creator_cannot_approve_their_own_referral(referral: ReferralService) -> None:
    draft = await referral.create(user="akt-manager")
    assert (await referral.act("akt-manager", draft["id"], "submit")).status_code == 200
    refused = await referral.act("akt-manager", draft["id"], "approve")
    assert refused.status_code == 403, refused.text
    assert "four-eyes" in refused.json()["detail"]
    by_caseworker = await referral.act("akt-caseworker", draft["id"], "approve")
    assert by_caseworker.status_code == 403, "a caseworker approved a referral"
    assert (await referral.get("akt-manager", draft["id"])).json()["state"] == "awaiting_approval"
    assert (
        await referral.count(
            "outbox",
            "payload->>'type' = 'referral.approved' AND payload->>'subject' = :s",
            s=draft["id"],
        )
        == 0
    )


async def test_a_referral_without_a_sharing_agreement_is_refused(
    referral: ReferralService,
) -> None:
    before = await referral.count("referrals")
    response = await referral.client.post(
        "/v1/referrals",
        headers=await referral.auth("akt-caseworker"),
        json={
            "case_id": str(uuid.uuid4()),
            "receiver_tenant": str(TLD),  # two Kazakh NGOs: the demo grants no agreement
            "services": ["shelter"],
            "reason": "Needs shelter in Taldykorgan.",
            "consent_id": str(uuid.uuid4()),
            "fields": ["first_name"],
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/no-sharing-agreement")
    assert await referral.count("referrals") == before, "a refused referral was stored"


async def test_share_refused_blocks_the_referral_and_tells_the_sender_why(
    referral: ReferralService,
) -> None:
    approved = await referral.approved()
    await referral.publish(
        ShareRefused(
            referral_id=uuid.UUID(approved["id"]),
            case_id=uuid.UUID(approved["case_id"]),
            reason="consent_scope",
        ),
        tenant=AKT,
        subject=approved["case_id"],
    )
    blocked = await referral.wait_state(approved["id"], "blocked")
    assert blocked["blocked_reason"] == "consent_scope"
    assert (await referral.get("osh-caseworker", approved["id"])).status_code == 404, (
        "a blocked referral reached the receiver"
    )
    history = await referral.client.get(
        f"/v1/referrals/{approved['id']}/history", headers=await referral.auth("akt-caseworker")
    )
    assert history.json()[-1]["reason"] == "consent_scope"
    # A package arriving after the refusal does not send a blocked referral.
    await referral.share(approved)
    await referral.wait_published()
    assert (await referral.get("akt-caseworker", approved["id"])).json()["state"] == "blocked"


async def test_every_disallowed_transition_is_a_409_and_changes_nothing(
    referral: ReferralService,
) -> None:
    draft = await referral.create()
    rid = draft["id"]
    for user, action, body in [
        ("akt-manager", "approve", None),  # a draft is not awaiting approval
        ("akt-caseworker", "start", None),
        ("akt-caseworker", "complete", {"outcomes": {"return": "provided"}}),
    ]:
        response = await referral.act(user, rid, action, body)
        assert response.status_code == 409, f"{action} on a draft: {response.text}"
        assert response.headers["content-type"].startswith("application/problem+json")
    sent = await referral.sent()
    for user, action, body in [
        ("akt-caseworker", "accept", {"responsible_user": "x"}),  # the sender cannot accept
        ("akt-caseworker", "submit", None),
        ("osh-caseworker", "start", None),  # not accepted yet
        ("osh-caseworker", "approve", None),
    ]:
        before = (await referral.get("akt-caseworker", sent["id"])).json()
        response = await referral.act(user, sent["id"], action, body)
        assert response.status_code in (403, 409), f"{user} {action}: {response.text}"
        assert (await referral.get("akt-caseworker", sent["id"])).json() == before
    history = await referral.client.get(
        f"/v1/referrals/{rid}/history", headers=await referral.auth("akt-caseworker")
    )
    assert len(history.json()) == 1, "a refused transition was written to the history"


async def test_the_receiver_declines_with_a_reason_and_a_note(referral: ReferralService) -> None:
    sent = await referral.sent()
    declined = await referral.act(
        "osh-caseworker",
        sent["id"],
        "decline",
        {"reason": "no_capacity", "note": "Shelter full until April."},
    )
    assert declined.status_code == 200, declined.text
    as_sender = (await referral.get("akt-caseworker", sent["id"])).json()
    assert (as_sender["state"], as_sender["decline_reason"]) == ("declined", "no_capacity")
    events = [t for t, _ in await referral.events(sent["id"])]
    assert events[-1] == "referral.declined"
    bad = await referral.act("osh-caseworker", sent["id"], "decline", {"reason": "bored"})
    assert bad.status_code == 422


async def test_either_side_cancels_with_a_reason_and_a_completed_referral_cannot_be(
    referral: ReferralService,
) -> None:
    sent = await referral.sent()
    cancelled = await referral.act(
        "osh-caseworker", sent["id"], "cancel", {"reason": "person_unreachable"}
    )
    assert cancelled.json()["state"] == "cancelled", cancelled.text
    draft = await referral.create()
    assert (
        await referral.act("akt-caseworker", draft["id"], "cancel", {"reason": "duplicate"})
    ).json()["state"] == "cancelled"
    again = await referral.act("akt-caseworker", draft["id"], "cancel", {"reason": "duplicate"})
    assert again.status_code == 409


async def test_completing_needs_an_outcome_for_every_requested_service(
    referral: ReferralService,
) -> None:
    sent = await referral.sent(services=["return", "shelter"])
    await referral.act("osh-caseworker", sent["id"], "accept", {"responsible_user": "u-1"})
    await referral.act("osh-caseworker", sent["id"], "start")
    partial = await referral.act(
        "osh-caseworker", sent["id"], "complete", {"outcomes": {"return": "provided"}}
    )
    assert partial.status_code == 422, partial.text
    assert (await referral.get("osh-caseworker", sent["id"])).json()["state"] == "in_progress"


async def test_the_two_ngos_exchange_messages_and_the_event_carries_no_text(
    referral: ReferralService,
) -> None:
    sent = await referral.sent()
    path = f"/v1/referrals/{sent['id']}/messages"
    first = await referral.client.post(
        path, headers=await referral.auth("osh-caseworker"), json={"body": "When does she arrive?"}
    )
    assert first.status_code == 201, first.text
    second = await referral.client.post(
        path, headers=await referral.auth("akt-caseworker"), json={"body": "Friday, by bus."}
    )
    assert second.status_code == 201
    thread = await referral.client.get(path, headers=await referral.auth("akt-manager"))
    assert [m["body"] for m in thread.json()] == ["When does she arrive?", "Friday, by bus."]
    assert [m["author_tenant"] for m in thread.json()] == [str(OSH), str(AKT)]
    posted = [p for t, p in await referral.events(sent["id"]) if t == "referral.message_posted"]
    assert len(posted) == 2
    assert "Friday" not in str(posted) and "arrive" not in str(posted)


async def test_messages_open_only_once_the_referral_was_sent(referral: ReferralService) -> None:
    draft = await referral.create()
    response = await referral.client.post(
        f"/v1/referrals/{draft['id']}/messages",
        headers=await referral.auth("akt-caseworker"),
        json={"body": "hello"},
    )
    assert response.status_code == 409


async def test_a_return_is_planned_only_on_an_accepted_referral_and_arrival_by_the_receiver(
    referral: ReferralService,
) -> None:
    sent = await referral.sent()
    path = f"/v1/referrals/{sent['id']}/return"
    body = {"planned_date": referral.clock().date().isoformat()}
    early = await referral.client.post(
        path, headers=await referral.auth("akt-caseworker"), json=body
    )
    assert early.status_code == 409, "a return was planned on a referral not yet accepted"
    await referral.act("osh-caseworker", sent["id"], "accept", {"responsible_user": "u-2"})
    planned = await referral.client.post(
        path, headers=await referral.auth("osh-caseworker"), json=body
    )
    assert planned.status_code == 201, planned.text
    twice = await referral.client.post(
        path, headers=await referral.auth("akt-caseworker"), json=body
    )
    assert twice.status_code == 409
    by_sender = await referral.client.post(
        f"{path}/arrived", headers=await referral.auth("akt-caseworker"), json={}
    )
    assert by_sender.status_code == 403, "the sender confirmed an arrival"


async def test_withdrawing_the_consent_purges_the_package_and_tells_both_ngos(
    referral: ReferralService,
) -> None:
    consent_id = uuid.uuid4()
    sent = await referral.sent(consent_id=consent_id)
    other = await referral.sent()  # another consent: must keep its package
    withdrawal = ConsentWithdrawn(
        consent_id=consent_id,
        case_id=uuid.UUID(sent["case_id"]),
        purpose=ConsentPurpose.REFERRAL,
        recipient_tenant=OSH,
        withdrawn_at=referral.clock(),
    )
    # A withdrawal in another NGO's name reaches nothing.
    await referral.publish(withdrawal, tenant=JAL, subject=sent["case_id"])
    await referral.publish(withdrawal, tenant=AKT, subject=sent["case_id"])

    import asyncio
    import time

    deadline = time.monotonic() + 15
    while (await referral.get("osh-caseworker", sent["id"])).json()["package_purged_at"] is None:
        assert time.monotonic() < deadline, "the package was never purged"
        await asyncio.sleep(0.1)
    as_receiver = (await referral.get("osh-caseworker", sent["id"])).json()
    assert as_receiver["package"] is None and as_receiver["state"] == "sent"
    assert await referral.count("share_packages", "referral_id = :r", r=sent["id"]) == 0
    assert await referral.count("share_packages", "referral_id = :r", r=other["id"]) == 1
    purged = [t for t, _ in await referral.events(sent["id"]) if t == "referral.package_purged"]
    assert purged == ["referral.package_purged"], "the purge was not announced exactly once"
