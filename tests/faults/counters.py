"""Independent counters: what each database and stream holds, against what the clients sent.

For every kind of effect the table has one row: **sent** (operations the clients started),
**acknowledged** (operations the clients hold a success answer for), **received** (acknowledged
operations whose effect is there), **lost** (acknowledged, effect missing) and **duplicated**
(effects beyond one per operation). The counts come from the services' own databases (as the
superuser, past row-level security) and the streams' contents, never from the APIs under test.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg
from nats.js import JetStreamContext, api

from tests.faults.load import OSH, Load
from tests.faults.platform import Platform
from tirek.demo.consortium import tenant_by_code

AKT = tenant_by_code("AKT").id


@dataclass(frozen=True)
class Row:
    what: str
    sent: int
    acknowledged: int
    received: int
    lost: int
    duplicated: int


@dataclass
class Table:
    scenario: str
    rows: list[Row]
    notes: list[str]

    @property
    def clean(self) -> bool:
        return all(row.lost == 0 and row.duplicated == 0 for row in self.rows)

    def markdown(self) -> str:
        lines = [
            f"{self.scenario}",
            "",
            "| effect | sent | acknowledged | received | lost | duplicated |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {r.what} | {r.sent} | {r.acknowledged} | {r.received} | {r.lost} | {r.duplicated} |"
            for r in self.rows
        ]
        lines += ["", *(f"- {note}" for note in self.notes)] if self.notes else []
        return "\n".join(lines)


async def service_rows(
    platform: Platform, service: str, sql: str, *args: Any
) -> list[asyncpg.Record]:
    dsn = platform.pg_admin_dsn.rsplit("/", 1)[0] + "/" + platform.database(service)
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def stream_events(
    js: JetStreamContext, platform: Platform, stream: str, subject: str
) -> list[tuple[str, dict[str, Any]]]:
    """(Nats-Msg-Id, envelope) of every message on ``subject`` in ``stream`` (un-namespaced)."""
    naming = platform.naming
    sub = await js.pull_subscribe(
        naming.subject(subject),
        stream=naming.stream(stream),
        config=api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=30.0,
        ),
    )
    found: list[tuple[str, dict[str, Any]]] = []
    try:
        remaining = (await sub.consumer_info()).num_pending or 0
        while remaining > 0:
            batch = await sub.fetch(min(500, remaining), timeout=10)
            remaining -= len(batch)
            for msg in batch:
                found.append(((msg.headers or {}).get("Nats-Msg-Id", ""), json.loads(msg.data)))
    finally:
        await sub.unsubscribe()
    return found


def _per_subject(events: list[tuple[str, dict[str, Any]]]) -> Counter[str]:
    return Counter(envelope["subject"] for _, envelope in events)


def _row(what: str, sent: int, acked: set[str], found: Counter[str]) -> Row:
    """``found``: effects per operation id (any id, acknowledged or not)."""
    received = sum(1 for op in acked if found[op] > 0)
    unacked_effects = sum(1 for op, n in found.items() if n > 0 and op not in acked)
    # Each operation may leave one effect, answered or not; anything beyond is a duplicate.
    beyond_one = sum(n - 1 for n in found.values() if n > 1)
    spare = max(0, unacked_effects - max(0, sent - len(acked)))
    return Row(what, sent, len(acked), received, len(acked) - received, beyond_one + spare)


async def count(platform: Platform, load: Load) -> list[Row]:
    ledger = load.ledger
    marker, referral_marker = load.marker, load.referral_marker
    nc = await platform.connect_nats()
    try:
        js = nc.jetstream()
        registered = await stream_events(js, platform, "INTAKE", "tirek.intake.case.registered.v1")
        referral_sent = await stream_events(
            js, platform, "REFERRAL", "tirek.referral.referral.sent.v1"
        )
    finally:
        await nc.close()

    cases = await service_rows(
        platform,
        "intake",
        "SELECT id::text AS id FROM cases WHERE tenant_id = $1 AND opened_on = $2",
        AKT,
        marker,
    )
    case_ids = Counter(row["id"] for row in cases)
    acked_cases = set(ledger.registrations)
    event_counts = _per_subject(registered)
    facts = await service_rows(
        platform,
        "reporting",
        "SELECT case_id::text AS id FROM case_facts WHERE tenant_id = $1 AND opened_on = $2 "
        "AND generation = (SELECT active FROM projection_generations WHERE id = 1)",
        AKT,
        marker,
    )
    projected = Counter(row["id"] for row in facts)

    # Referrals: the sender's cases opened on the referral marker date are the operations.
    referral_cases = await service_rows(
        platform,
        "intake",
        "SELECT id::text AS id FROM cases WHERE tenant_id = $1 AND opened_on = $2",
        AKT,
        referral_marker,
    )
    sender_cases = [row["id"] for row in referral_cases]
    referrals = await service_rows(
        platform,
        "referral",
        "SELECT id::text AS id, case_id::text AS case_id, state FROM referrals "
        "WHERE case_id = ANY($1::uuid[])",
        sender_cases,
    )
    arrived_states = {"sent", "accepted", "in_progress", "completed"}
    acked_referrals = set(ledger.referrals)
    arrived = Counter(r["id"] for r in referrals if r["state"] in arrived_states)
    per_case = Counter(r["case_id"] for r in referrals)
    sent_events = _per_subject(referral_sent)
    linked = await service_rows(
        platform,
        "intake",
        "SELECT origin_referral_id::text AS id FROM cases WHERE tenant_id = $1 "
        "AND origin_referral_id = ANY($2::uuid[])",
        OSH,
        [r["id"] for r in referrals],
    )
    linked_cases = Counter(row["id"] for row in linked)
    referral_facts = await service_rows(
        platform,
        "reporting",
        "SELECT referral_id::text AS id, sent_at, accepted_at FROM referral_facts "
        "WHERE referral_id = ANY($1::uuid[]) "
        "AND generation = (SELECT active FROM projection_generations WHERE id = 1)",
        [r["id"] for r in referrals],
    )
    projected_referrals = Counter(
        r["id"]
        for r in referral_facts
        if r["sent_at"] is not None and (r["id"] not in ledger.accepted or r["accepted_at"])
    )
    sent_event_of = {env["id"]: env["subject"] for _, env in referral_sent}
    inbox = await service_rows(
        platform,
        "notification",
        "SELECT d.event_id::text AS event_id, d.recipient_key AS recipient FROM deliveries d "
        "JOIN inbox_messages m ON m.delivery_id = d.id "
        "WHERE d.tenant_id = $1 AND d.event_type = 'referral.sent' AND d.channel = 'inbox' "
        "AND d.event_id = ANY($2::uuid[])",
        OSH,
        list(sent_event_of),
    )
    recipients = sorted({row["recipient"] for row in inbox})
    per_referral_recipient = Counter(
        (sent_event_of[row["event_id"]], row["recipient"]) for row in inbox
    )
    notified = Counter(
        {
            rid: min(per_referral_recipient[(rid, who)] for who in recipients) if recipients else 0
            for rid in arrived
        }
    )
    notification_dups = sum(n - 1 for n in per_referral_recipient.values() if n > 1)

    rows = [
        _row("cases registered (intake)", ledger.registrations_sent, acked_cases, case_ids),
        _row(
            "case.registered events (INTAKE stream)",
            ledger.registrations_sent,
            acked_cases,
            Counter({k: v for k, v in event_counts.items() if k in case_ids or k in acked_cases}),
        ),
        _row("case projections (reporting)", ledger.registrations_sent, acked_cases, projected),
        Row(
            "referrals sent to the receiver (referral)",
            ledger.referrals_sent,
            len(acked_referrals),
            sum(1 for rid in acked_referrals if arrived[rid]),
            sum(1 for rid in acked_referrals if not arrived[rid]),
            # A second referral for one case is a duplicate, whatever its state.
            sum(n - 1 for n in per_case.values() if n > 1),
        ),
        _row(
            "referral.sent events (REFERRAL stream)",
            ledger.referrals_sent,
            acked_referrals,
            Counter({k: v for k, v in sent_events.items() if k in arrived or k in acked_referrals}),
        ),
        _row("linked cases opened (intake)", ledger.accepts_sent, ledger.accepted, linked_cases),
        _row(
            "referral projections (reporting)",
            ledger.referrals_sent,
            acked_referrals,
            projected_referrals,
        ),
        Row(
            f"referral.sent inbox notifications x{len(recipients)} (notification)",
            ledger.referrals_sent,
            len(acked_referrals),
            sum(1 for rid in acked_referrals if notified[rid] > 0),
            sum(1 for rid in acked_referrals if notified[rid] == 0),
            notification_dups,
        ),
    ]
    # The scenario's messages on the streams, by Nats-Msg-Id: a republish the stream's
    # duplicate window did not catch would show here.
    ours = set(case_ids) | set(acked_cases) | set(arrived) | acked_referrals
    msg_ids = Counter(
        msg_id for msg_id, envelope in registered + referral_sent if envelope["subject"] in ours
    )
    messages = sum(msg_ids.values())
    rows.append(
        Row(
            "their stream messages, by Nats-Msg-Id",
            messages,
            messages,
            len(msg_ids),
            0,
            messages - len(msg_ids),
        )
    )
    return rows


async def settle(
    platform: Platform, load: Load, *, patience: float = 120.0
) -> tuple[list[Row], float]:
    """Count until nothing acknowledged is missing any more (or ``patience`` runs out): the
    platform is eventually consistent, the counters read its settled state. Returns the rows
    and the seconds it took to settle after the load stopped."""
    started = time.monotonic()
    while True:
        rows = await count(platform, load)
        elapsed = time.monotonic() - started
        if all(row.lost == 0 for row in rows) or elapsed > patience:
            return rows, elapsed
        await asyncio.sleep(2.0)
