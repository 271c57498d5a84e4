"""Contracts published by ``referral``: ``referral.*`` and ``return.*``.

A referral moves through explicit states (DESIGN.md, issue 3); every transition is an event
carrying the actor, the time and, where there is one, a reason code. Payloads carry tenant ids,
case ids, service codes and dates — never a person's data and never free text (messages on a
referral and decline notes stay in the referral service; only their existence is published).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from tirek.events.envelope import Contract
from tirek.events.registry import register

SOURCE = "referral"


class ReferralService(StrEnum):
    """Services one NGO can request of another (and that the partner directory lists)."""

    RETURN = "return"
    RECEPTION = "reception"
    REINTEGRATION = "reintegration"
    LEGAL_AID = "legal_aid"
    DOCUMENTS = "documents"
    SHELTER = "shelter"
    FAMILY_TRACING = "family_tracing"
    MEDICAL_CARE = "medical_care"
    PSYCHOLOGICAL_CARE = "psychological_care"


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class ReferralState(StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    BLOCKED = "blocked"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DeclineReason(StrEnum):
    NO_CAPACITY = "no_capacity"
    SERVICE_NOT_OFFERED = "service_not_offered"
    OUTSIDE_AREA = "outside_area"
    PERSON_NOT_REACHABLE = "person_not_reachable"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    DUPLICATE = "duplicate"
    OTHER = "other"


class ServiceOutcome(StrEnum):
    PROVIDED = "provided"
    PARTIALLY_PROVIDED = "partially_provided"
    NOT_PROVIDED = "not_provided"
    DECLINED_BY_PERSON = "declined_by_person"


class ReferralFacts(Contract):
    """What every ``referral.*`` event says: which referral, between whom, for what, now where."""

    referral_id: uuid.UUID
    referral_number: str = Field(description="human-readable, e.g. R-KZ-AKT-2026-000012")
    case_id: uuid.UUID = Field(description="the sending NGO's case")
    sender_tenant: uuid.UUID
    receiver_tenant: uuid.UUID
    services: list[ReferralService]
    urgency: Urgency
    state: ReferralState
    actor: str | None = Field(None, description="user id (sub) who made the transition")
    at: datetime

    #: The acting tenant (the envelope's) is always the sender or the receiver.
    parties = ("sender_tenant", "receiver_tenant")


@register
class ReferralSubmitted(ReferralFacts):
    """Created and submitted for a case manager's approval (four-eyes rule)."""

    event_type = "referral.submitted"
    version = 1
    source = SOURCE


@register
class ReferralApproved(ReferralFacts):
    """A case manager of the sender approved it: intake prepares the share package."""

    event_type = "referral.approved"
    version = 1
    source = SOURCE

    consent_id: uuid.UUID
    fields: list[str] = Field(
        description="names of the fields to share (the consent must cover them)"
    )


@register
class ReferralBlocked(ReferralFacts):
    event_type = "referral.blocked"
    version = 1
    source = SOURCE

    reason: str = Field(description="a code, e.g. consent_withdrawn, consent_scope, case_not_found")


@register
class ReferralSent(ReferralFacts):
    event_type = "referral.sent"
    version = 1
    source = SOURCE

    due_at: datetime = Field(description="when an unanswered referral becomes overdue")


@register
class ReferralAccepted(ReferralFacts):
    """The receiver accepted: intake opens the linked case in the receiver's tenant."""

    event_type = "referral.accepted"
    version = 1
    source = SOURCE

    responsible_user: str = Field(description="user id of the receiver's responsible caseworker")


@register
class ReferralDeclined(ReferralFacts):
    event_type = "referral.declined"
    version = 1
    source = SOURCE

    reason: DeclineReason


@register
class ReferralStarted(ReferralFacts):
    event_type = "referral.in_progress"
    version = 1
    source = SOURCE


@register
class ReferralCompleted(ReferralFacts):
    event_type = "referral.completed"
    version = 1
    source = SOURCE

    outcomes: dict[ReferralService, ServiceOutcome] = Field(default_factory=dict)


@register
class ReferralCancelled(ReferralFacts):
    event_type = "referral.cancelled"
    version = 1
    source = SOURCE

    reason: str = Field(description="a code, e.g. person_withdrew, duplicate, other")


@register
class ReferralOverdue(ReferralFacts):
    """Sent and unanswered past its due time (72 h, 24 h if urgent); repeated every period."""

    event_type = "referral.overdue"
    version = 1
    source = SOURCE

    due_at: datetime
    period: int = Field(description="1 for the first overdue period, 2 for the next, ...")


@register
class ReferralMessagePosted(ReferralFacts):
    """A message was posted on the referral's thread (its text stays in the referral service)."""

    event_type = "referral.message_posted"
    version = 1
    source = SOURCE

    message_id: uuid.UUID
    author_tenant: uuid.UUID


@register
class ReferralPackagePurged(ReferralFacts):
    """The share package was removed (consent withdrawn, or the person erased); the receiver
    keeps only its own records."""

    event_type = "referral.package_purged"
    version = 1
    source = SOURCE

    consent_id: uuid.UUID
    reason: str = Field("consent_withdrawn", description="consent_withdrawn | person_erased")


# ----------------------------------------------------------------------------- returns


class ReturnFacts(Contract):
    return_id: uuid.UUID
    referral_id: uuid.UUID
    sender_tenant: uuid.UUID
    receiver_tenant: uuid.UUID
    planned_date: date
    origin_country: str = Field(pattern=r"^[A-Z]{2}$")
    destination_country: str = Field(pattern=r"^[A-Z]{2}$")
    border_crossing: str | None = Field(
        None, description="name of the crossing point (no personal data)"
    )
    transport: str | None = Field(None, description="bus | train | air | car | other")
    actor: str | None = None
    at: datetime

    parties = ("sender_tenant", "receiver_tenant")


@register
class ReturnPlanned(ReturnFacts):
    event_type = "return.planned"
    version = 1
    source = SOURCE


@register
class ReturnUpdated(ReturnFacts):
    event_type = "return.updated"
    version = 1
    source = SOURCE

    changed: list[str] = Field(default_factory=list)


@register
class ReturnArrived(ReturnFacts):
    event_type = "return.arrived"
    version = 1
    source = SOURCE

    arrived_on: date


@register
class ReturnOverdue(ReturnFacts):
    """No arrival confirmed 48 hours after the planned date."""

    event_type = "return.overdue"
    version = 1
    source = SOURCE

    due_at: datetime
