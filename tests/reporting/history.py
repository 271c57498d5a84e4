"""A generated history of de-identified events for several NGOs, and the figures it should
give, computed independently of the service (plain Python over the same history)."""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tirek.demo.consortium import TENANTS
from tirek.events import Envelope
from tirek.events.intake import (
    AgeBand,
    AssistanceMode,
    AssistanceOutcome,
    AssistanceRecorded,
    AssistanceType,
    CaseCategory,
    CaseClosed,
    CaseRegistered,
    CaseStatus,
    CaseUpdated,
    ClosureReason,
    ContactRecorded,
    ContactTopic,
    RiskLevel,
    Sex,
    TrmStage,
)
from tirek.events.referral import (
    DeclineReason,
    ReferralAccepted,
    ReferralApproved,
    ReferralCompleted,
    ReferralDeclined,
    ReferralOverdue,
    ReferralSent,
    ReferralService,
    ReferralStarted,
    ReferralState,
    ReferralSubmitted,
    ReturnArrived,
    ReturnOverdue,
    ReturnPlanned,
    ReturnUpdated,
    ServiceOutcome,
    Urgency,
)

NGOS = tuple(t for t in TENANTS if t.kind == "ngo")
PROJECTS = ("IOM-CA-SAFE", "USAID-SM-2026", None)
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
#: "Now" for the service under test: after every event of the history.
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


@dataclass
class Truth:
    """The figures each NGO should see, keyed by NGO code."""

    cases_opened_by_sex: Counter[tuple[str, str]] = field(default_factory=Counter)
    cases_closed: Counter[str] = field(default_factory=Counter)
    assistance_by_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    persons_by_type: dict[tuple[str, str], set[uuid.UUID]] = field(
        default_factory=lambda: defaultdict(set)
    )
    hotline_by_project: Counter[tuple[str, str]] = field(default_factory=Counter)
    funnel_by_sender: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    returns_by_route: Counter[tuple[str, str, str]] = field(default_factory=Counter)


@dataclass
class History:
    #: In the order they are published (shuffled across and within streams, with copies).
    published: list[Envelope]
    unique: int
    truth: Truth


def generate(seed: int = 7, cases_per_ngo: int = 60) -> History:
    rng = random.Random(seed)
    events: list[Envelope] = []
    truth = Truth()
    clock = [START]

    def tick(hours: float) -> datetime:
        clock[0] += timedelta(hours=hours)
        return clock[0]

    cases_of: dict[str, list[tuple[uuid.UUID, uuid.UUID]]] = defaultdict(list)
    for ngo in NGOS:
        for _ in range(cases_per_ngo):
            case_id, person_id = (
                uuid.UUID(int=rng.getrandbits(128)),
                uuid.UUID(int=rng.getrandbits(128)),
            )
            cases_of[ngo.code].append((case_id, person_id))
            opened = START + timedelta(days=rng.randrange(0, 200), hours=rng.randrange(0, 10))
            state = {
                "sex": rng.choice([Sex.FEMALE, Sex.FEMALE, Sex.MALE, Sex.UNKNOWN]),
                "age_band": rng.choice(list(AgeBand)),
                "citizenship": rng.choice([ngo.country, "TJ", None]),
                "categories": rng.sample(list(CaseCategory), rng.randint(1, 2)),
                "trm_stage": TrmStage.IDENTIFICATION,
                "status": CaseStatus.ACTIVE,
                "risk_level": RiskLevel.LOW,
            }
            events.append(
                Envelope.wrap(
                    CaseRegistered(
                        case_id=case_id,
                        case_number=f"{ngo.code}-1",
                        person_id=person_id,
                        opened_on=opened.date(),
                        country=ngo.country,
                        **state,
                    ),
                    tenant=ngo.id,
                    subject=case_id,
                    time=opened,
                )
            )
            when = opened
            for _ in range(rng.randrange(0, 3)):
                when += timedelta(days=rng.randrange(1, 20))
                state = state | {
                    "sex": rng.choice(list(Sex)),
                    "trm_stage": rng.choice(list(TrmStage)),
                    "risk_level": rng.choice(list(RiskLevel)),
                }
                events.append(
                    Envelope.wrap(
                        CaseUpdated(
                            case_id=case_id, case_number=f"{ngo.code}-1", changed=["sex"], **state
                        ),
                        tenant=ngo.id,
                        subject=case_id,
                        time=when,
                    )
                )
            # The state that must win is the newest, whatever order events arrive in.
            truth.cases_opened_by_sex[(ngo.code, state["sex"].value)] += 1
            if rng.random() < 0.3:
                when += timedelta(days=rng.randrange(1, 30))
                events.append(
                    Envelope.wrap(
                        CaseClosed(
                            case_id=case_id,
                            case_number=f"{ngo.code}-1",
                            closed_on=when.date(),
                            reason=rng.choice(list(ClosureReason)),
                        ),
                        tenant=ngo.id,
                        subject=case_id,
                        time=when,
                    )
                )
                truth.cases_closed[ngo.code] += 1
            for _ in range(rng.choice([0, 1, 2, 3, 4])):
                kind = rng.choice(list(AssistanceType))
                project = rng.choice(PROJECTS)
                assistance_id = uuid.UUID(int=rng.getrandbits(128))
                given = opened + timedelta(days=rng.randrange(0, 30))
                events.append(
                    Envelope.wrap(
                        AssistanceRecorded(
                            assistance_id=assistance_id,
                            case_id=case_id,
                            person_id=person_id,
                            type=kind,
                            mode=rng.choice(list(AssistanceMode)),
                            provided_on=given.date(),
                            outcome=AssistanceOutcome.PROVIDED,
                            project_code=project,
                        ),
                        tenant=ngo.id,
                        subject=assistance_id,
                        time=given,
                    )
                )
                truth.assistance_by_type[(ngo.code, kind.value)] += 1
                truth.persons_by_type[(ngo.code, kind.value)].add(person_id)
                if kind is AssistanceType.HOTLINE_CONSULTATION:
                    truth.hotline_by_project[(ngo.code, project or "none")] += 1
        for _ in range(rng.randrange(10, 40)):
            contact_id = uuid.UUID(int=rng.getrandbits(128))
            mode = rng.choice(list(AssistanceMode))
            project = rng.choice(PROJECTS)
            received = START + timedelta(days=rng.randrange(0, 200))
            events.append(
                Envelope.wrap(
                    ContactRecorded(
                        contact_id=contact_id,
                        received_on=received.date(),
                        mode=mode,
                        topic=rng.choice(list(ContactTopic)),
                        country=ngo.country,
                        sex=rng.choice(list(Sex)),
                        project_code=project,
                    ),
                    tenant=ngo.id,
                    subject=contact_id,
                    time=received,
                )
            )
            if mode is AssistanceMode.HOTLINE:
                truth.hotline_by_project[(ngo.code, project or "none")] += 1

    for _ in range(70):
        sender, receiver = rng.sample(NGOS, 2)
        case_id = rng.choice(cases_of[sender.code])[0]
        referral_id = uuid.UUID(int=rng.getrandbits(128))
        services = rng.sample(list(ReferralService), rng.randint(1, 3))
        at = START + timedelta(days=rng.randrange(0, 200), hours=rng.randrange(0, 24))
        facts = {
            "referral_id": referral_id,
            "referral_number": "R-1",
            "case_id": case_id,
            "sender_tenant": sender.id,
            "receiver_tenant": receiver.id,
            "services": services,
            "urgency": rng.choice(list(Urgency)),
        }
        flow: list[tuple[type, ReferralState, dict[str, object]]] = [
            (ReferralSubmitted, ReferralState.AWAITING_APPROVAL, {}),
            (ReferralApproved, ReferralState.APPROVED, {"consent_id": uuid.uuid4(), "fields": []}),
            (ReferralSent, ReferralState.SENT, {"due_at": at + timedelta(hours=80)}),
        ]
        answer = rng.random()
        if answer < 0.15:
            flow.append(
                (
                    ReferralOverdue,
                    ReferralState.SENT,
                    {"due_at": at + timedelta(hours=80), "period": 1},
                )
            )
        elif answer < 0.35:
            flow.append(
                (ReferralDeclined, ReferralState.DECLINED, {"reason": DeclineReason.NO_CAPACITY})
            )
        else:
            flow.append((ReferralAccepted, ReferralState.ACCEPTED, {"responsible_user": "u"}))
            if rng.random() < 0.7:
                flow.append((ReferralStarted, ReferralState.IN_PROGRESS, {}))
                flow.append(
                    (
                        ReferralCompleted,
                        ReferralState.COMPLETED,
                        {"outcomes": {services[0]: ServiceOutcome.PROVIDED}},
                    )
                )
        seen: set[str] = set()
        for contract, state, extra in flow:
            at += timedelta(hours=rng.randrange(1, 72))
            payload = contract(**facts, state=state, at=at, **extra)
            acting = (
                receiver
                if contract
                in (ReferralAccepted, ReferralDeclined, ReferralStarted, ReferralCompleted)
                else sender
            )
            events.append(Envelope.wrap(payload, tenant=acting.id, subject=referral_id, time=at))
            seen.add(payload.event_type)
        for column, event_type in (
            ("sent", "referral.sent"),
            ("accepted", "referral.accepted"),
            ("declined", "referral.declined"),
            ("completed", "referral.completed"),
        ):
            if event_type in seen:
                # Both NGOs of a referral see it, under its sender.
                for viewer in (sender.code, receiver.code):
                    truth.funnel_by_sender[(viewer, sender.code, column)] += 1
        if "referral.accepted" in seen and (
            ReferralService.RETURN in services or rng.random() < 0.3
        ):
            return_id = uuid.UUID(int=rng.getrandbits(128))
            route = (receiver.country, sender.country)
            plan = {
                "return_id": return_id,
                "referral_id": referral_id,
                "sender_tenant": sender.id,
                "receiver_tenant": receiver.id,
                "planned_date": (at + timedelta(days=10)).date(),
                "origin_country": route[0],
                "destination_country": route[1],
                "border_crossing": rng.choice(["Dostyk", "Kordai", "Dostuk"]),
                "transport": "bus",
            }
            at += timedelta(hours=5)
            events.append(
                Envelope.wrap(
                    ReturnPlanned(**plan, at=at), tenant=sender.id, subject=return_id, time=at
                )
            )
            at += timedelta(hours=5)
            plan["border_crossing"] = "Zhibek Zholy"
            events.append(
                Envelope.wrap(
                    ReturnUpdated(**plan, at=at, changed=["border_crossing"]),
                    tenant=sender.id,
                    subject=return_id,
                    time=at,
                )
            )
            key = f"{route[0]} → {route[1]}"
            involved = (sender.code, receiver.code)
            for viewer in involved:
                truth.returns_by_route[(viewer, key, "planned")] += 1
            at += timedelta(days=11)
            if rng.random() < 0.7:
                events.append(
                    Envelope.wrap(
                        ReturnArrived(**plan, at=at, arrived_on=at.date()),
                        tenant=receiver.id,
                        subject=return_id,
                        time=at,
                    )
                )
                for viewer in involved:
                    truth.returns_by_route[(viewer, key, "arrived")] += 1
            else:
                events.append(
                    Envelope.wrap(
                        ReturnOverdue(**plan, at=at, due_at=at),
                        tenant=sender.id,
                        subject=return_id,
                        time=at,
                    )
                )
                for viewer in involved:
                    truth.returns_by_route[(viewer, key, "overdue")] += 1

    unique = len(events)
    # Redeliveries: copies of one in ten events, published again later (beyond the stream's
    # duplicate window, as a relay that died between publish and commit would).
    copies = rng.sample(events, len(events) // 10)
    published = events + copies
    # Cross-stream and within-stream reordering: assistance before its case, updates before
    # registrations, arrivals before plans.
    rng.shuffle(published)
    return History(published, unique, truth)
