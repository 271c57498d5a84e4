"""Events of one aggregate arriving out of order, across streams and within one."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.reporting.conftest import Reporting, publish
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
from tirek.events.referral import (
    ReferralAccepted,
    ReferralSent,
    ReferralService,
    ReferralState,
    Urgency,
)


class _Tenant:
    """An NGO outside the generated history, so these events change none of its figures."""

    def __init__(self) -> None:
        self.id = uuid.uuid4()


NUK = _Tenant()
OSH = _Tenant()
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
#: Reports read the active generation; a rebuild started by another test may be filling a new
#: one (its rows are partial until the swap), so assertions read the active one too.
ACTIVE = "generation = (SELECT active FROM projection_generations WHERE id = 1)"


async def _applied(reporting: Reporting, *envelopes: Envelope) -> None:
    """Wait until every one of ``envelopes`` has been applied (its inbox row committed).

    Waiting on a projected column alone is not enough: the consumer handles a batch
    concurrently, so the older event may land first and the row look finished before the
    newer one arrives.
    """
    ids = [e.id for e in envelopes]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = await reporting.scalar(
            "SELECT count(DISTINCT event_id) FROM inbox WHERE event_id = ANY(:ids)", ids=ids
        )
        if done == len(ids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"reporting never applied all of {[e.type for e in envelopes]}")


async def _row(reporting: Reporting, sql: str, ready: str, **params: Any) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        async with reporting.admin_engine.connect() as conn:
            from sqlalchemy import text

            row = (await conn.execute(text(sql), params)).mappings().first()
        if row is not None and row[ready] is not None:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"the projection never showed {ready} for {params}")


async def test_an_older_event_never_overwrites_newer_state(
    reporting: Reporting, nats_url: str
) -> None:
    case_id, person_id = uuid.uuid4(), uuid.uuid4()
    common = {
        "case_id": case_id,
        "case_number": "KG-NUK-2026-1",
        "age_band": AgeBand.FROM_18_TO_24,
        "categories": [CaseCategory.DEPORTEE],
        "status": CaseStatus.ACTIVE,
        "risk_level": RiskLevel.LOW,
    }
    registered = CaseRegistered(
        **common,
        person_id=person_id,
        opened_on=date(2026, 3, 1),
        country="UZ",
        sex=Sex.FEMALE,
        trm_stage=TrmStage.IDENTIFICATION,
    )
    updated = CaseUpdated(
        **common,
        changed=["trm_stage"],
        sex=Sex.FEMALE,
        trm_stage=TrmStage.RETURN_AND_SOCIAL_INCLUSION,
    )
    assistance = AssistanceRecorded(
        assistance_id=uuid.uuid4(),
        case_id=case_id,
        person_id=person_id,
        type=AssistanceType.LEGAL_AID,
        mode=AssistanceMode.OFFICE,
        provided_on=date(2026, 3, 2),
        outcome=AssistanceOutcome.PROVIDED,
    )
    # Assistance first (another stream's consumer), then the newer update, then the
    # registration that is older than the update.
    envelopes = [
        Envelope.wrap(assistance, tenant=NUK.id, subject=case_id, time=T0 + timedelta(days=1)),
        Envelope.wrap(updated, tenant=NUK.id, subject=case_id, time=T0 + timedelta(days=5)),
        Envelope.wrap(registered, tenant=NUK.id, subject=case_id, time=T0),
    ]
    await publish(nats_url, reporting.naming, envelopes)
    await _applied(reporting, *envelopes)
    row = await _row(
        reporting,
        f"SELECT * FROM case_facts WHERE case_id = :id AND {ACTIVE}",
        "opened_on",
        id=case_id,
    )
    assert row["trm_stage"] == "return_and_social_inclusion", "the older registration won"
    assert row["opened_on"] == date(2026, 3, 1) and row["person_id"] == person_id
    assert (
        await reporting.scalar(
            f"SELECT count(*) FROM assistance_facts WHERE case_id = :id AND {ACTIVE}", id=case_id
        )
        == 1
    )


async def test_a_referral_keeps_its_latest_state_and_every_transition_time(
    reporting: Reporting, nats_url: str
) -> None:
    referral_id = uuid.uuid4()
    facts = {
        "referral_id": referral_id,
        "referral_number": "R-UZ-NUK-2026-1",
        "case_id": uuid.uuid4(),
        "sender_tenant": NUK.id,
        "receiver_tenant": OSH.id,
        "services": [ReferralService.RETURN],
        "urgency": Urgency.URGENT,
    }
    sent_at, accepted_at = T0, T0 + timedelta(hours=20)
    sent = ReferralSent(
        **facts, state=ReferralState.SENT, at=sent_at, due_at=sent_at + timedelta(hours=24)
    )
    accepted = ReferralAccepted(
        **facts, state=ReferralState.ACCEPTED, at=accepted_at, responsible_user="u"
    )
    envelopes = [
        Envelope.wrap(accepted, tenant=OSH.id, subject=referral_id, time=accepted_at),
        Envelope.wrap(sent, tenant=NUK.id, subject=referral_id, time=sent_at),
    ]
    await publish(nats_url, reporting.naming, envelopes)
    await _applied(reporting, *envelopes)
    row = await _row(
        reporting,
        f"SELECT * FROM referral_facts WHERE referral_id = :id AND {ACTIVE}",
        "sent_at",
        id=referral_id,
    )
    assert row["state"] == "accepted", "the older sent event overwrote the acceptance"
    assert row["sent_at"] == sent_at and row["accepted_at"] == accepted_at
