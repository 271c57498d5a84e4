"""Events in another tenant's name never rewrite a projection row: a ``case.*`` about a case
another NGO registered, or a ``referral.*`` naming other parties for a known referral, is
dead-lettered with the reason, and the row keeps its owner and its figures."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import nats
from sqlalchemy import text

from tests.reporting.conftest import Reporting, publish
from tests.reporting.test_ordering import ACTIVE, _applied
from tirek.events import Envelope
from tirek.events.intake import (
    AgeBand,
    AssistanceMode,
    AssistanceOutcome,
    AssistanceRecorded,
    AssistanceType,
    CaseCategory,
    CaseRegistered,
    CaseStatus,
    CaseUpdated,
    RiskLevel,
    Sex,
    TrmStage,
)
from tirek.events.referral import ReferralSent, ReferralService, ReferralState, Urgency
from tirek.messaging import DeadLetter, read_dead_letters

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def _dead_letters(reporting: Reporting, subject: str, count: int) -> list[DeadLetter]:
    nc = await nats.connect(reporting.settings.nats_url)
    try:
        deadline = time.monotonic() + 20
        while True:
            letters = [
                letter
                for letter in await read_dead_letters(nc.jetstream(), reporting.naming, limit=5000)
                if letter.json().get("subject") == subject
            ]
            if len(letters) >= count or time.monotonic() > deadline:
                return letters
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


async def test_a_case_event_from_another_tenant_is_dead_lettered_and_changes_no_row(
    reporting: Reporting, nats_url: str
) -> None:
    owner, intruder = uuid.uuid4(), uuid.uuid4()
    case_id, person_id = uuid.uuid4(), uuid.uuid4()
    common = {
        "case_id": case_id,
        "case_number": "KG-OSH-2026-9",
        "age_band": AgeBand.FROM_25_TO_34,
        "categories": [CaseCategory.LABOUR_MIGRANT],
        "risk_level": RiskLevel.LOW,
        "sex": Sex.MALE,
    }
    registered = CaseRegistered(
        **common,
        person_id=person_id,
        opened_on=date(2026, 3, 1),
        country="KG",
        status=CaseStatus.ACTIVE,
        trm_stage=TrmStage.IDENTIFICATION,
    )
    genuine = Envelope.wrap(registered, tenant=owner, subject=case_id, time=T0)
    await publish(nats_url, reporting.naming, [genuine])
    await _applied(reporting, genuine)

    hijack = CaseUpdated(
        **common,
        status=CaseStatus.CLOSED,
        changed=["status"],
        trm_stage=TrmStage.CRIMINAL_AND_CIVIL_PROCEEDINGS,
    )
    stray = AssistanceRecorded(
        assistance_id=uuid.uuid4(),
        case_id=case_id,
        person_id=person_id,
        type=AssistanceType.LEGAL_AID,
        mode=AssistanceMode.OFFICE,
        provided_on=date(2026, 3, 2),
        outcome=AssistanceOutcome.PROVIDED,
    )
    stray_genuine = Envelope.wrap(stray, tenant=owner, subject=case_id, time=T0)
    forged = [
        Envelope.wrap(hijack, tenant=intruder, subject=case_id, time=T0 + timedelta(days=1)),
        # The same assistance record claimed by another tenant after its owner recorded it.
        Envelope.wrap(stray, tenant=intruder, subject=case_id, time=T0 + timedelta(days=1)),
    ]
    await publish(nats_url, reporting.naming, [stray_genuine])
    await _applied(reporting, stray_genuine)
    await publish(nats_url, reporting.naming, forged)

    letters = await _dead_letters(reporting, str(case_id), count=2)
    assert len(letters) == 2, [(letter.consumer, letter.reason) for letter in letters]
    assert {letter.consumer for letter in letters} == {"reporting-cases", "reporting-assistance"}
    assert all(letter.reason.startswith("ForgedTenant") for letter in letters), letters
    async with reporting.admin_engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    f"SELECT tenant_id, status, trm_stage FROM case_facts WHERE case_id = :c AND {ACTIVE}"
                ),
                {"c": case_id},
            )
        ).one()
        owners = (
            await conn.execute(
                text(
                    f"SELECT DISTINCT tenant_id FROM assistance_facts WHERE case_id = :c AND {ACTIVE}"
                ),
                {"c": case_id},
            )
        ).scalars()
        assert set(owners) == {owner}
    assert (row.tenant_id, row.status, row.trm_stage) == (owner, "active", "identification")


async def test_a_referral_event_naming_other_parties_for_a_known_referral_is_dead_lettered(
    reporting: Reporting, nats_url: str
) -> None:
    sender, receiver, intruder = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    referral_id = uuid.uuid4()

    def sent(to: uuid.UUID, at: datetime) -> ReferralSent:
        return ReferralSent(
            referral_id=referral_id,
            referral_number="R-KZ-AKT-2026-9",
            case_id=uuid.uuid4(),
            sender_tenant=sender,
            receiver_tenant=to,
            services=[ReferralService.RETURN],
            urgency=Urgency.NORMAL,
            state=ReferralState.SENT,
            at=at,
            due_at=at + timedelta(hours=72),
        )

    genuine = Envelope.wrap(sent(receiver, T0), tenant=sender, subject=referral_id, time=T0)
    await publish(nats_url, reporting.naming, [genuine])
    await _applied(reporting, genuine)
    later = T0 + timedelta(hours=1)
    # A party by its own payload, but the referral it names is between two others.
    forged = Envelope.wrap(sent(intruder, later), tenant=intruder, subject=referral_id, time=later)
    await publish(nats_url, reporting.naming, [forged])

    (letter,) = await _dead_letters(reporting, str(referral_id), count=1)
    assert letter.consumer == "reporting-referrals"
    assert letter.reason.startswith("ForgedTenant"), letter.reason
    stored = await reporting.scalar(
        f"SELECT receiver_tenant FROM referral_facts WHERE referral_id = :r AND {ACTIVE}",
        r=referral_id,
    )
    assert stored == receiver
