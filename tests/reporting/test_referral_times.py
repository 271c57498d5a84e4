"""The referral report's counts and times equal what the referral rows give, also when two
NGOs share a label (two former partners of one country, both shown as ``EX-<country>``)."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from reporting.projections.projector import writing_all_tenants
from reporting.reports import queries
from reporting.reports.scope import Filters, Scope
from tests.reporting.conftest import Reporting
from tests.reporting.direct import ACTIVE, remove, write_labels
from tirek.db import UnitOfWork

#: A year no other test's referral was sent in: the report is filtered to it.
YEAR = 2019


def _quantile(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _hours(end: datetime, start: datetime) -> float:
    return (end - start).total_seconds() / 3600


async def test_counts_and_times_by_sender_and_pair_merge_ngos_that_share_a_label(
    reporting: Reporting,
) -> None:
    rng = random.Random(7)
    tenants = {uuid.uuid4(): "ZQA", uuid.uuid4(): "EX-ZQ", uuid.uuid4(): "EX-ZQ"}
    ids = list(tenants)
    rows: list[dict[str, Any]] = []
    for _ in range(60):
        sender, receiver = rng.sample(ids, 2)
        sent = datetime(YEAR, 3, 1, tzinfo=UTC) + timedelta(hours=rng.randint(0, 5000))
        answer = sent + timedelta(hours=rng.uniform(1, 200))
        outcome = rng.choice(["accepted", "declined", "waiting"])
        accepted = answer if outcome == "accepted" else None
        completed = (
            accepted + timedelta(hours=rng.uniform(10, 900))
            if accepted and rng.random() < 0.6
            else None
        )
        rows.append(
            {
                "id": uuid.uuid4(),
                "sender": sender,
                "receiver": receiver,
                "sent": sent,
                "accepted": accepted,
                "declined": answer if outcome == "declined" else None,
                "completed": completed,
                "due": sent + timedelta(days=10),
            }
        )
    async with reporting.admin_engine.begin() as conn:
        await write_labels(conn, tenants, "ZQ")
        for row in rows:
            await conn.execute(
                text(
                    "INSERT INTO referral_facts (generation, referral_id, sender_tenant, "
                    "receiver_tenant, case_id, services, urgency, state, state_at, sent_at, "
                    "accepted_at, declined_at, completed_at, due_at) VALUES "
                    f"({ACTIVE}, :id, :sender, :receiver, :case, ARRAY['return'], 'normal', "
                    "'sent', :sent, :sent, :accepted, :declined, :completed, :due)"
                ),
                row | {"case": uuid.uuid4()},
            )

    async with UnitOfWork(reporting.app.state.sessions, None) as session:
        await writing_all_tenants(session)
        tables = await queries.referrals(
            session,
            Scope(None, threshold=1),
            Filters(date_from=date(YEAR, 1, 1), date_to=date(YEAR, 12, 31)),
            now=datetime(YEAR + 1, 1, 1, tzinfo=UTC),
        )
    await remove(reporting.admin_engine, ids)
    by_name = {table.name: table for table in tables}

    def cells(name: str) -> dict[tuple[str, str], Any]:
        table = by_name[name]
        return {
            (row, column): value
            for row, values in zip(table.rows, table.cells, strict=True)
            for column, value in zip(table.columns, values, strict=True)
        }

    senders: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        senders[tenants[row["sender"]]].append(row)
    funnel = cells("referral_funnel_by_sender")
    times = cells("referral_times_hours")
    assert sorted(by_name["referral_times_hours"].rows) == ["EX-ZQ", "ZQA"]
    for label, sent in senders.items():
        assert funnel[(label, "sent")] == len(sent)
        assert funnel[(label, "accepted")] == sum(1 for r in sent if r["accepted"])
        assert funnel[(label, "declined")] == sum(1 for r in sent if r["declined"])
        assert funnel[(label, "completed")] == sum(1 for r in sent if r["completed"])
        answers = [
            _hours(r["accepted"] or r["declined"], r["sent"])
            for r in sent
            if r["accepted"] or r["declined"]
        ]
        completions = [_hours(r["completed"], r["accepted"]) for r in sent if r["completed"]]
        assert times[(label, "answered")] == len(answers)
        assert times[(label, "answer_median")] == round(_quantile(answers, 0.5), 1), label
        assert times[(label, "answer_p90")] == round(_quantile(answers, 0.9), 1), label
        assert times[(label, "completed")] == len(completions)
        assert times[(label, "completion_median")] == round(_quantile(completions, 0.5), 1)
        assert times[(label, "completion_p90")] == round(_quantile(completions, 0.9), 1)
    pairs = cells("referral_funnel_by_pair")
    expected_pairs: dict[str, int] = defaultdict(int)
    for row in rows:
        expected_pairs[f"{tenants[row['sender']]} → {tenants[row['receiver']]}"] += 1
    assert {pair: pairs[(pair, "sent")] for pair in expected_pairs} == dict(expected_pairs)
