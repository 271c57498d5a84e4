"""Reporting's queries over 1,000,000 generated cases.

The cases (and assistance records, hotline contacts and referrals in proportion) are written
with COPY straight into reporting's projection tables, in the active generation, spread over
the five demo NGOs and three years: generated, not registered through the API. The summary,
the referral funnel and the donor indicators are then asked for over HTTP, as a coordinator
(every NGO, small cells suppressed) and as one NGO's case manager.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx

from bench.common import Figure
from bench.platform import Platform
from tirek.demo.consortium import TENANTS
from tirek.events.intake import (
    AgeBand,
    AssistanceMode,
    AssistanceOutcome,
    AssistanceType,
    CaseCategory,
    ClosureReason,
    ContactTopic,
    ExploitationForm,
    RiskLevel,
    Sex,
    TrmStage,
)
from tirek.events.referral import ReferralService, ReferralState

QUERIES = (
    ("summary", "/v1/reports/summary"),
    ("referral funnel", "/v1/reports/referrals"),
    ("indicators", "/v1/reports/indicators"),
    # Not among issue 8's targets, measured so its cost is seen: distinct people assisted.
    ("assistance", "/v1/reports/assistance"),
)
PROJECTS = ["IOM-CA-2026", "USAID-SM", "MFA-NL", None]


def _day(rng: random.Random, start: date) -> date:
    return start + timedelta(days=rng.randrange(3 * 365))


async def generate(platform: Platform, *, cases: int) -> float:
    """COPY ``cases`` cases and their related rows into the projections; seconds taken."""
    rng = random.Random(11)
    ngos = [t for t in TENANTS if t.kind == "ngo"]
    start = date.today() - timedelta(days=3 * 365)
    now = datetime.now(UTC)
    sexes, bands = list(Sex), list(AgeBand)
    categories, forms, stages = list(CaseCategory), list(ExploitationForm), list(TrmStage)
    conn = await platform.database("reporting")
    began = time.perf_counter()
    try:
        generation = await conn.fetchval("SELECT active FROM projection_generations WHERE id = 1")
        case_rows, person_of = [], []
        for _ in range(cases):
            tenant = rng.choice(ngos)
            case_id, person_id = uuid.uuid4(), uuid.uuid4()
            opened = _day(rng, start)
            closed = opened + timedelta(days=rng.randrange(400)) if rng.random() < 0.3 else None
            case_rows.append(
                (
                    generation,
                    case_id,
                    tenant.id,
                    person_id,
                    tenant.country,
                    opened,
                    None,
                    rng.choice(sexes).value,
                    rng.choice(bands).value,
                    rng.choice(["KG", "UZ", "TJ", "KZ", "AF"]),
                    [c.value for c in rng.sample(categories, rng.randint(1, 2))],
                    [rng.choice(forms).value],
                    rng.choice(stages).value,
                    "closed" if closed else "active",
                    rng.choice(list(RiskLevel)).value,
                    now,
                    closed if closed and closed <= date.today() else None,
                    rng.choice(list(ClosureReason)).value if closed else None,
                )
            )
            person_of.append((tenant, case_id, person_id, opened))
        await conn.copy_records_to_table(
            "case_facts",
            records=case_rows,
            columns=[
                "generation", "case_id", "tenant_id", "person_id", "country", "opened_on",
                "origin_referral_id", "sex", "age_band", "citizenship", "categories",
                "exploitation_forms", "trm_stage", "status", "risk_level", "state_at",
                "closed_on", "closure_reason",
            ],
        )  # fmt: skip
        del case_rows
        assistance = []
        for tenant, case_id, person_id, opened in person_of:
            for _ in range(rng.choice((0, 1, 1, 2))):
                assistance.append(
                    (
                        generation,
                        uuid.uuid4(),
                        tenant.id,
                        case_id,
                        person_id,
                        rng.choice(list(AssistanceType)).value,
                        rng.choice(list(AssistanceMode)).value,
                        opened + timedelta(days=rng.randrange(60)),
                        rng.choice(list(AssistanceOutcome)).value,
                        rng.choice(PROJECTS),
                    )
                )
        await conn.copy_records_to_table(
            "assistance_facts",
            records=assistance,
            columns=[
                "generation", "assistance_id", "tenant_id", "case_id", "person_id", "type",
                "mode", "provided_on", "outcome", "project_code",
            ],
        )  # fmt: skip
        contacts = [
            (
                generation,
                uuid.uuid4(),
                (tenant := rng.choice(ngos)).id,
                _day(rng, start),
                rng.choice(list(AssistanceMode)).value,
                rng.choice(list(ContactTopic)).value,
                tenant.country,
                rng.choice(sexes).value,
                rng.choice(PROJECTS),
            )
            for _ in range(cases // 5)
        ]
        await conn.copy_records_to_table(
            "contact_facts",
            records=contacts,
            columns=[
                "generation", "contact_id", "tenant_id", "received_on", "mode", "topic",
                "country", "sex", "project_code",
            ],
        )  # fmt: skip
        referrals = []
        for tenant, case_id, _, opened in rng.sample(person_of, cases // 10):
            receiver = rng.choice([t for t in ngos if t.country != tenant.country])
            sent = datetime.combine(opened, datetime.min.time(), UTC) + timedelta(hours=2)
            answered = sent + timedelta(hours=rng.randrange(1, 96))
            accepted = answered if rng.random() < 0.8 else None
            declined = answered if accepted is None and rng.random() < 0.7 else None
            completed = (
                accepted + timedelta(days=rng.randrange(5, 90))
                if accepted and rng.random() < 0.6
                else None
            )
            state = (
                ReferralState.COMPLETED
                if completed
                else ReferralState.ACCEPTED
                if accepted
                else ReferralState.DECLINED
                if declined
                else ReferralState.SENT
            )
            referrals.append(
                (
                    generation, uuid.uuid4(), tenant.id, receiver.id, case_id,
                    [rng.choice(list(ReferralService)).value], "normal", state.value,
                    completed or answered, sent - timedelta(hours=1), sent - timedelta(minutes=30),
                    sent, accepted, declined, accepted, completed, sent + timedelta(hours=72), 0,
                )
            )  # fmt: skip
        await conn.copy_records_to_table(
            "referral_facts",
            records=referrals,
            columns=[
                "generation", "referral_id", "sender_tenant", "receiver_tenant", "case_id",
                "services", "urgency", "state", "state_at", "submitted_at", "approved_at",
                "sent_at", "accepted_at", "declined_at", "started_at", "completed_at", "due_at",
                "overdue_periods",
            ],
        )  # fmt: skip
        # Three years of rows would long have been vacuumed: the visibility map set, so the
        # reports' covering indexes answer without visiting the table (a fresh COPY has it
        # unset, and every index scan then reads the heap too: 165 ms against 90 for one
        # indicator over 1,000,000 records).
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    return time.perf_counter() - began


async def queries(platform: Platform, *, runs: int) -> list[Figure]:
    figures = []
    async with httpx.AsyncClient(base_url=platform.urls["reporting"], timeout=120) as client:
        for user, scope in (("coordinator", "all NGOs, suppressed"), ("akt-manager", "one NGO")):
            headers = await platform.auth(user)
            for name, path in QUERIES:
                timings = []
                for i in range(runs + 2):
                    started = time.perf_counter()
                    response = await client.get(path, headers=headers)
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:
                        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
                    if i >= 2:  # two warm-up runs
                        timings.append(elapsed)
                figures.append(
                    Figure(f"reporting {name} ({user})", None, "", timings, f"{runs} runs, {scope}")
                )
    return figures
