"""Forged ``share.*`` and ``consent.*`` events never move or purge a referral: they are
dead-lettered with the reason, and the genuine event after them is applied."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import nats

from tests.referral.conftest import AKT, JAL, KEYS, OSH, PACKAGE, ReferralService
from tirek.crypto import seal
from tirek.events.intake import ConsentPurpose, ConsentWithdrawn, SharePrepared
from tirek.messaging import DeadLetter, read_dead_letters
from tirek.messaging.streams import REFERRAL_CONSENTS, REFERRAL_SHARES


async def _dead_letters(
    referral: ReferralService, consumer: str, subject: str, count: int = 1
) -> list[DeadLetter]:
    nc = await nats.connect(referral.nats_url)
    try:
        deadline = time.monotonic() + 15
        while True:
            letters = [
                letter
                for letter in await read_dead_letters(
                    nc.jetstream(), referral.naming, consumer=consumer, limit=1000
                )
                if letter.json().get("subject") == subject
            ]
            if len(letters) >= count or time.monotonic() > deadline:
                return letters
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


def _package(approved: dict[str, Any], receiver: uuid.UUID) -> SharePrepared:
    referral_id = uuid.UUID(approved["id"])
    return SharePrepared(
        referral_id=referral_id,
        case_id=uuid.UUID(approved["case_id"]),
        receiver_tenant=receiver,
        consent_id=uuid.UUID(approved["consent_id"]),
        fields=sorted(PACKAGE),
        sealed=seal(
            KEYS,
            tenant=receiver,
            purpose="share",
            plaintext=json.dumps(PACKAGE).encode(),
            context=referral_id.bytes,
        ),
    )


async def test_a_package_in_another_ngos_name_or_for_another_receiver_is_dead_lettered(
    referral: ReferralService,
) -> None:
    approved = await referral.approved()
    subject = f"forged-{approved['id']}"
    # In the receiver's name instead of the sender's, and sealed for a third NGO.
    await referral.publish(_package(approved, OSH), tenant=OSH, subject=subject)
    await referral.publish(_package(approved, JAL), tenant=AKT, subject=subject)
    letters = await _dead_letters(referral, REFERRAL_SHARES.name, subject, count=2)

    assert len(letters) == 2, [letter.reason for letter in letters]
    assert all(letter.reason.startswith("ForgedTenant") for letter in letters), letters
    assert (await referral.get("akt-caseworker", approved["id"])).json()["state"] == "approved"
    assert await referral.count("share_packages", "referral_id = :r", r=approved["id"]) == 0

    await referral.share(approved)
    await referral.wait_state(approved["id"], "sent")


async def test_a_withdrawal_of_another_ngos_consent_is_dead_lettered_and_purges_nothing(
    referral: ReferralService,
) -> None:
    consent_id = uuid.uuid4()
    sent = await referral.sent(consent_id=consent_id)
    withdrawal = ConsentWithdrawn(
        consent_id=consent_id,
        case_id=uuid.UUID(sent["case_id"]),
        purpose=ConsentPurpose.REFERRAL,
        recipient_tenant=OSH,
        withdrawn_at=referral.clock(),
    )
    subject = f"forged-{consent_id}"
    await referral.publish(withdrawal, tenant=JAL, subject=subject)
    (letter,) = await _dead_letters(referral, REFERRAL_CONSENTS.name, subject)
    assert letter.reason.startswith("ForgedTenant"), letter.reason
    assert await referral.count("share_packages", "referral_id = :r", r=sent["id"]) == 1
