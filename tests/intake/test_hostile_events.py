"""Forged ``referral.*`` events never make intake prepare or open a package for the wrong NGO:
they are dead-lettered with the reason, and the genuine event after them is applied."""

from __future__ import annotations

import asyncio
import time
import uuid

import nats

from tests.intake.conftest import Intake
from tests.intake.test_cases import Auth
from tests.intake.test_referral_saga import (
    JAL,
    OSH,
    accepted,
    approved,
    handled_up_to,
    publish,
    sender_case,
    share_outcome,
    wrap,
)
from tirek.events import Envelope
from tirek.messaging import DeadLetter, read_dead_letters
from tirek.messaging.streams import INTAKE_REFERRALS


async def _dead_letters_about(intake: Intake, referral_id: uuid.UUID) -> list[DeadLetter]:
    nc = await nats.connect(intake.settings.nats_url)
    try:
        deadline = time.monotonic() + 15
        while True:
            letters = [
                letter
                for letter in await read_dead_letters(
                    nc.jetstream(), intake.naming, consumer=INTAKE_REFERRALS.name, limit=1000
                )
                if letter.json().get("subject") == str(referral_id)
            ]
            if letters or time.monotonic() > deadline:
                return letters
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


async def test_an_acceptance_naming_another_receiver_than_the_package_is_dead_lettered(
    intake: Intake, auth: Auth
) -> None:
    case, consent_id = await sender_case(intake, auth)
    event = approved(case["id"], consent_id)
    await publish(intake, wrap(event))
    assert (await share_outcome(intake, event.referral_id))["type"] == "share.prepared"

    # Jalal-Abad claims the referral Aktobe sent to Osh, in its own name (a party by payload).
    forged = accepted(event).model_copy(update={"receiver_tenant": JAL})
    await handled_up_to(
        intake, await publish(intake, Envelope.wrap(forged, tenant=JAL, subject=event.referral_id))
    )
    (letter,) = await _dead_letters_about(intake, event.referral_id)
    assert letter.reason.startswith("ForgedTenant"), letter.reason
    assert letter.deliveries == 1
    assert await intake.count("cases", "origin_referral_id = :r", r=event.referral_id) == 0, (
        "a linked case was opened for an NGO the package was not prepared for"
    )

    await handled_up_to(intake, await publish(intake, wrap(accepted(event))))
    linked = await intake.count(
        "cases", "origin_referral_id = :r AND tenant_id = :t", r=event.referral_id, t=OSH
    )
    assert linked == 1, "the genuine acceptance after the forged one was not applied"


async def test_an_approval_in_the_receivers_name_is_dead_lettered_and_shares_nothing(
    intake: Intake, auth: Auth
) -> None:
    case, consent_id = await sender_case(intake, auth)
    event = approved(case["id"], consent_id)
    sequence = await publish(intake, Envelope.wrap(event, tenant=OSH, subject=event.referral_id))
    await handled_up_to(intake, sequence)

    (letter,) = await _dead_letters_about(intake, event.referral_id)
    assert letter.reason.startswith("ForgedTenant"), letter.reason
    assert await intake.count("share_packages", "referral_id = :r", r=event.referral_id) == 0
    assert await intake.count("outbox", "payload->>'subject' = :r", r=str(event.referral_id)) == 0
