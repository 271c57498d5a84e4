"""Events delivered together are projected in one transaction, and still fail one by one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from reporting.projections.group_commit import GroupCommit
from tests.reporting.conftest import Reporting
from tirek.events import Envelope, ForgedTenant
from tirek.events.intake import (
    AgeBand,
    CaseCategory,
    CaseRegistered,
    CaseStatus,
    RiskLevel,
    Sex,
    TrmStage,
)

ACTIVE = "generation = (SELECT active FROM projection_generations WHERE id = 1)"


@pytest.fixture
async def tenant(reporting: Reporting) -> AsyncIterator[uuid.UUID]:
    """A tenant of its own; its rows are removed afterwards, since no stream holds its events
    (the rebuild test compares the projections with a replay of the streams)."""
    tenant = uuid.uuid4()
    yield tenant
    async with reporting.admin_engine.begin() as conn:
        await conn.execute(text("DELETE FROM case_facts WHERE tenant_id = :t"), {"t": tenant})
        await conn.execute(
            text("DELETE FROM inbox WHERE consumer LIKE :c"), {"c": f"%{tenant.hex[:8]}"}
        )


def registration(tenant: uuid.UUID) -> Envelope:
    case_id = uuid.uuid4()
    payload = CaseRegistered(
        case_id=case_id,
        case_number=f"KZ-TST-{case_id.hex[:6]}",
        person_id=uuid.uuid4(),
        opened_on=date(2026, 3, 1),
        country="KZ",
        sex=Sex.FEMALE,
        age_band=AgeBand.FROM_18_TO_24,
        citizenship="KG",
        categories=[CaseCategory.LABOUR_MIGRANT],
        trm_stage=TrmStage.IDENTIFICATION,
        status=CaseStatus.ACTIVE,
        risk_level=RiskLevel.HIGH,
    )
    return Envelope.wrap(payload, tenant=tenant, subject=case_id, time=datetime.now(UTC))


async def test_a_bad_event_fails_alone_and_its_group_is_projected_once(
    reporting: Reporting, tenant: uuid.UUID
) -> None:
    consumer = f"group-test-{tenant.hex[:8]}"
    group = GroupCommit(reporting.app.state.sessions, consumer)
    good = [registration(tenant) for _ in range(20)]
    bad = registration(tenant).model_copy(update={"data": {"case_id": "not a case"}})

    outcomes = await asyncio.gather(
        *(group.project(e) for e in [*good[:10], bad, *good[10:]]), return_exceptions=True
    )

    assert [type(o) for o in outcomes].count(ValidationError) == 1, outcomes
    assert isinstance(outcomes[10], ValidationError), "the bad event's own call must fail"
    rows = f"SELECT count(*) FROM case_facts WHERE tenant_id = :t AND {ACTIVE}"
    assert await reporting.scalar(rows, t=tenant) == 20
    inbox = "SELECT count(*) FROM inbox WHERE consumer = :c"
    assert await reporting.scalar(inbox, c=consumer) == 20, "the bad event left an inbox row"

    # Redelivered, together with a copy of one of them inside the same group: nothing changes.
    await asyncio.gather(*(group.project(e) for e in [*good, good[0]]))
    assert await reporting.scalar(rows, t=tenant) == 20
    assert await reporting.scalar(inbox, c=consumer) == 20


async def test_an_event_forged_for_another_tenants_case_is_refused_alone(
    reporting: Reporting, tenant: uuid.UUID
) -> None:
    consumer = f"group-forged-{tenant.hex[:8]}"
    group = GroupCommit(reporting.app.state.sessions, consumer)
    victim = registration(tenant)
    await group.project(victim)
    # Another tenant's event naming the first tenant's case, in a group with genuine events.
    forged = victim.model_copy(update={"id": uuid.uuid4(), "tenant": uuid.uuid4()})
    good = [registration(tenant) for _ in range(10)]

    outcomes = await asyncio.gather(
        *(group.project(e) for e in [*good[:5], forged, *good[5:]]), return_exceptions=True
    )

    assert isinstance(outcomes[5], ForgedTenant), outcomes
    assert [o for i, o in enumerate(outcomes) if i != 5] == [None] * 10
    owners = "SELECT DISTINCT tenant_id FROM case_facts WHERE case_id = :c"
    assert await reporting.scalar(owners, c=victim.data["case_id"]) == tenant
    rows = f"SELECT count(*) FROM case_facts WHERE tenant_id = :t AND {ACTIVE}"
    assert await reporting.scalar(rows, t=tenant) == 11
    inbox = "SELECT count(*) FROM inbox WHERE consumer = :c AND event_id = :e"
    assert await reporting.scalar(inbox, c=consumer, e=forged.id) == 0


@pytest.mark.parametrize("size", [1, 300])
async def test_groups_of_any_size_commit_every_event(
    reporting: Reporting, tenant: uuid.UUID, size: int
) -> None:
    group = GroupCommit(reporting.app.state.sessions, f"group-size-{tenant.hex[:8]}", max_group=64)
    await asyncio.gather(*(group.project(registration(tenant)) for _ in range(size)))
    rows = f"SELECT count(*) FROM case_facts WHERE tenant_id = :t AND {ACTIVE}"
    assert await reporting.scalar(rows, t=tenant) == size
