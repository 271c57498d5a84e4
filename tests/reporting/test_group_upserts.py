"""A group's upserts of one table are one statement per wave of distinct rows: several events
of one aggregate in a group all count, and a stored fact survives the events that do not
carry it, whether the events are projected one by one or together."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from reporting.projections.group_commit import GroupCommit, project_one
from tests.reporting.conftest import Reporting
from tests.reporting.test_group_commit import ACTIVE, registration
from tirek.events import Envelope
from tirek.events.intake import CaseStatus, CaseUpdated
from tirek.events.referral import (
    ReferralCompleted,
    ReferralMessagePosted,
    ReferralService,
    ReferralState,
    ServiceOutcome,
    Urgency,
)

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sender(reporting: Reporting) -> AsyncIterator[uuid.UUID]:
    """A tenant of its own; its rows are removed afterwards (no stream holds its events, and
    the rebuild test compares the projections with a replay of the streams)."""
    tenant = uuid.uuid4()
    yield tenant
    async with reporting.admin_engine.begin() as conn:
        for table in ("case_facts", "referral_facts"):
            column = "tenant_id" if table == "case_facts" else "sender_tenant"
            await conn.execute(text(f"DELETE FROM {table} WHERE {column} = :t"), {"t": tenant})


def _referral_events(sender: uuid.UUID) -> tuple[uuid.UUID, list[Envelope]]:
    """A referral's completion with its outcomes, then a message posted on it."""
    referral_id, receiver = uuid.uuid4(), uuid.uuid4()
    facts = {
        "referral_id": referral_id,
        "referral_number": "R-KZ-AKT-2026-000077",
        "case_id": uuid.uuid4(),
        "sender_tenant": sender,
        "receiver_tenant": receiver,
        "services": [ReferralService.SHELTER],
        "urgency": Urgency.NORMAL,
        "state": ReferralState.COMPLETED,
    }
    done = ReferralCompleted(
        **facts, at=T0, outcomes={ReferralService.SHELTER: ServiceOutcome.PROVIDED}
    )
    later = T0 + timedelta(hours=2)
    message = ReferralMessagePosted(
        **facts, at=later, message_id=uuid.uuid4(), author_tenant=receiver
    )
    return referral_id, [
        Envelope.wrap(done, tenant=receiver, subject=referral_id, time=T0),
        Envelope.wrap(message, tenant=receiver, subject=referral_id, time=later),
    ]


@pytest.mark.parametrize("together", [False, True], ids=["one by one", "in one group"])
async def test_a_later_event_of_a_completed_referral_keeps_its_outcomes(
    reporting: Reporting, sender: uuid.UUID, together: bool
) -> None:
    referral_id, events = _referral_events(sender)
    consumer = f"outcomes-{sender.hex[:8]}"
    sessions = reporting.app.state.sessions
    if together:
        group = GroupCommit(sessions, consumer)
        await asyncio.gather(*(group.project(e) for e in events))
    else:
        for envelope in events:
            await project_one(sessions, consumer, envelope)

    outcomes = await reporting.scalar(
        f"SELECT outcomes FROM referral_facts WHERE referral_id = :r AND {ACTIVE}", r=referral_id
    )
    assert outcomes == {"shelter": "provided"}


async def test_events_of_one_case_in_one_group_all_count(
    reporting: Reporting, sender: uuid.UUID
) -> None:
    registered = registration(sender)
    case_id = registered.data["case_id"]
    updates = [
        Envelope.wrap(
            CaseUpdated(**{**registered.data, "status": status, "changed": ["status"]}),
            tenant=sender,
            subject=case_id,
            time=registered.time + timedelta(minutes=minutes),
        )
        for minutes, status in ((5, CaseStatus.ACTIVE), (9, CaseStatus.FOLLOW_UP))
    ]
    others = [registration(sender) for _ in range(5)]
    group = GroupCommit(reporting.app.state.sessions, f"same-case-{sender.hex[:8]}")

    # The newest update first: the order within a group does not matter.
    await asyncio.gather(*(group.project(e) for e in [updates[1], *others, registered, updates[0]]))

    rows = f"SELECT count(*) FROM case_facts WHERE tenant_id = :t AND {ACTIVE}"
    assert await reporting.scalar(rows, t=sender) == 6
    status = f"SELECT status FROM case_facts WHERE case_id = :c AND {ACTIVE}"
    assert await reporting.scalar(status, c=case_id) == CaseStatus.FOLLOW_UP.value
    opened = f"SELECT opened_on::text FROM case_facts WHERE case_id = :c AND {ACTIVE}"
    assert await reporting.scalar(opened, c=case_id) == registered.data["opened_on"]
