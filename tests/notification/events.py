"""Events as the referral and intake services publish them (built from the shared contracts)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from tirek.demo.consortium import USERS, tenant_by_code
from tirek.events import Envelope
from tirek.events.intake import CaseRegistered
from tirek.events.referral import (
    ReferralAccepted,
    ReferralOverdue,
    ReferralSent,
    ReturnPlanned,
)

_numbers = iter(range(1, 1_000_000))


def user_id(username: str) -> str:
    return next(str(user.id) for user in USERS if user.username == username)


def email_of(username: str) -> str:
    return next(user.email for user in USERS if user.username == username)


def _facts(sender: str, receiver: str, state: str) -> dict[str, object]:
    return {
        "referral_id": uuid.uuid4(),
        "referral_number": f"R-KZ-{sender}-2026-{next(_numbers):06d}",
        "case_id": uuid.uuid4(),
        "sender_tenant": tenant_by_code(sender).id,
        "receiver_tenant": tenant_by_code(receiver).id,
        "services": ["return", "legal_aid"],
        "urgency": "normal",
        "state": state,
        "actor": user_id(f"{sender.lower()}-manager"),
        "at": datetime.now(UTC),
    }


def referral_sent(sender: str, receiver: str) -> Envelope:
    payload = ReferralSent.model_validate(
        {**_facts(sender, receiver, "sent"), "due_at": datetime.now(UTC) + timedelta(hours=72)}
    )
    return Envelope.wrap(payload, tenant=payload.sender_tenant, subject=payload.referral_id)


def referral_overdue(sender: str, receiver: str) -> Envelope:
    payload = ReferralOverdue.model_validate(
        {
            **_facts(sender, receiver, "sent"),
            "due_at": datetime.now(UTC) - timedelta(hours=1),
            "period": 1,
        }
    )
    return Envelope.wrap(payload, tenant=payload.sender_tenant, subject=payload.referral_id)


def referral_accepted(sender: str, receiver: str, responsible: str) -> Envelope:
    payload = ReferralAccepted.model_validate(
        {**_facts(sender, receiver, "accepted"), "responsible_user": user_id(responsible)}
    )
    return Envelope.wrap(payload, tenant=payload.receiver_tenant, subject=payload.referral_id)


def return_planned(sender: str, receiver: str) -> Envelope:
    payload = ReturnPlanned(
        return_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        sender_tenant=tenant_by_code(sender).id,
        receiver_tenant=tenant_by_code(receiver).id,
        planned_date=date(2026, 5, 4),
        origin_country="KZ",
        destination_country="KG",
        at=datetime.now(UTC),
    )
    return Envelope.wrap(payload, tenant=payload.sender_tenant, subject=payload.return_id)


def case_registered(owner: str, assigned_to: str, *, assignee_id: str | None = None) -> Envelope:
    """A case of ``owner`` assigned to the demo user ``assigned_to`` (or to ``assignee_id``)."""
    payload = CaseRegistered.model_validate(
        {
            "case_id": uuid.uuid4(),
            "case_number": f"{owner}-2026-{next(_numbers):06d}",
            "person_id": uuid.uuid4(),
            "opened_on": "2026-03-01",
            "country": "KZ",
            "sex": "female",
            "age_band": "18-24",
            "categories": ["presumed_victim_of_trafficking"],
            "trm_stage": "identification",
            "status": "active",
            "risk_level": "high",
            "assigned_to": assignee_id or user_id(assigned_to),
        }
    )
    return Envelope.wrap(payload, tenant=tenant_by_code(owner).id, subject=payload.case_id)
