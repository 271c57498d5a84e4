"""``Idempotency-Key`` on referral's POSTs: create and every transition answer a retry with the
first result, and publish their event once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.referral.conftest import OSH, PACKAGE, ReferralService, user_id


def _keyed(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


async def _twice(
    referral: ReferralService, user: str, path: str, body: dict[str, Any] | None = None
) -> tuple[httpx.Response, httpx.Response]:
    headers = _keyed(await referral.auth(user))
    kwargs: dict[str, Any] = {"json": body} if body is not None else {}
    first = await referral.client.post(path, headers=headers, **kwargs)
    retry = await referral.client.post(path, headers=headers, **kwargs)
    return first, retry


def _draft() -> dict[str, Any]:
    return {
        "case_id": str(uuid.uuid4()),
        "receiver_tenant": str(OSH),
        "services": ["return"],
        "urgency": "normal",
        "reason": "Returning home.",
        "consent_id": str(uuid.uuid4()),
        "fields": list(PACKAGE),
    }


async def test_a_retried_create_answers_the_first_draft_and_creates_one(
    referral: ReferralService,
) -> None:
    body = _draft()
    first, retry = await _twice(referral, "akt-caseworker", "/v1/referrals", body)
    assert first.status_code == 201, first.text
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert await referral.count("referrals", "case_id = :c", c=uuid.UUID(body["case_id"])) == 1


async def test_concurrent_creates_with_one_key_create_one_referral(
    referral: ReferralService,
) -> None:
    body = _draft()
    headers = _keyed(await referral.auth("akt-caseworker"))
    answers = await asyncio.gather(
        *(referral.client.post("/v1/referrals", json=body, headers=headers) for _ in range(3))
    )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await referral.count("referrals", "case_id = :c", c=uuid.UUID(body["case_id"])) == 1


async def test_every_transition_answers_a_retry_with_its_first_result_and_one_event(
    referral: ReferralService,
) -> None:
    draft = await referral.create(services=["return"])
    rid = draft["id"]
    steps: list[tuple[str, str, dict[str, Any] | None, str]] = [
        ("akt-caseworker", "submit", None, "referral.submitted"),
        ("akt-manager", "approve", None, "referral.approved"),
    ]
    for user, action, body, event_type in steps:
        first, retry = await _twice(referral, user, f"/v1/referrals/{rid}/{action}", body)
        assert first.status_code == 200, f"{action}: {first.text}"
        assert (retry.status_code, retry.json()) == (200, first.json()), action
        types = [t for t, _ in await referral.events(rid)]
        assert types.count(event_type) == 1, f"{action} published {types.count(event_type)}"

    await referral.share(draft)
    await referral.wait_state(rid, "sent")
    receiving = [
        (
            "osh-caseworker",
            "accept",
            {"responsible_user": user_id("osh-caseworker")},
            "referral.accepted",
        ),
        ("osh-manager", "start", None, "referral.in_progress"),
        ("osh-caseworker", "complete", {"outcomes": {"return": "provided"}}, "referral.completed"),
    ]
    for user, action, body, event_type in receiving:
        first, retry = await _twice(referral, user, f"/v1/referrals/{rid}/{action}", body)
        assert first.status_code == 200, f"{action}: {first.text}"
        assert (retry.status_code, retry.json()) == (200, first.json()), action
        types = [t for t, _ in await referral.events(rid)]
        assert types.count(event_type) == 1, f"{action} published {types.count(event_type)}"


async def test_a_retried_message_is_posted_once(referral: ReferralService) -> None:
    sent = await referral.sent(services=["return"])
    path = f"/v1/referrals/{sent['id']}/messages"
    first, retry = await _twice(referral, "osh-caseworker", path, {"body": "Мы получили."})
    assert first.status_code == 201, first.text
    assert retry.json() == first.json()
    assert (
        await referral.count("referral_messages", "referral_id = :r", r=uuid.UUID(sent["id"])) == 1
    )


async def test_a_refused_transition_keeps_nothing_and_a_cancel_retries_cleanly(
    referral: ReferralService,
) -> None:
    draft = await referral.create(services=["return"])
    rid = draft["id"]
    headers = _keyed(await referral.auth("akt-caseworker"))
    # A caseworker may not approve: 403, and the key stays free.
    refused = await referral.client.post(f"/v1/referrals/{rid}/approve", headers=headers)
    assert refused.status_code in (403, 409), refused.text
    cancel = {"reason": "duplicate"}
    first, retry = await _twice(referral, "akt-caseworker", f"/v1/referrals/{rid}/cancel", cancel)
    assert first.status_code == 200, first.text
    assert (retry.status_code, retry.json()) == (200, first.json())
    types = [t for t, _ in await referral.events(rid)]
    assert types.count("referral.cancelled") == 1
