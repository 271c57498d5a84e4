from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from referral.referrals.states import Action
from tirek.events.referral import (
    DeclineReason,
    ReferralService,
    ReferralState,
    ServiceOutcome,
    Urgency,
)

FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w.@:-]+$")]


class CancelReason(StrEnum):
    PERSON_WITHDREW = "person_withdrew"
    PERSON_UNREACHABLE = "person_unreachable"
    NO_LONGER_NEEDED = "no_longer_needed"
    DUPLICATE = "duplicate"
    OTHER = "other"


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: uuid.UUID = Field(description="the sending NGO's case")
    receiver_tenant: uuid.UUID
    services: list[ReferralService] = Field(min_length=1, max_length=len(ReferralService))
    urgency: Urgency = Urgency.NORMAL
    reason: str = Field(min_length=1, max_length=4000, description="why, for the receiving NGO")
    consent_id: uuid.UUID = Field(description="the consent that covers this referral")
    fields: list[FieldName] = Field(
        min_length=1, max_length=32, description="names of the fields to share"
    )

    @field_validator("services", "fields")
    @classmethod
    def _unique(cls, value: list[Any]) -> list[Any]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat an item")
        return value


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    responsible_user: UserId = Field(description="user id of the responsible caseworker")


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DeclineReason
    note: str | None = Field(None, max_length=4000)


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcomes: dict[ReferralService, ServiceOutcome] = Field(
        description="the outcome of every requested service"
    )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: CancelReason
    note: str | None = Field(None, max_length=4000)


class SharePackageOut(BaseModel):
    fields: list[str]
    received_at: datetime
    #: The consented fields as intake shared them; ``None`` when the package does not open.
    data: dict[str, Any] | None


class ReferralOut(BaseModel):
    """A referral as one of its two NGOs sees it.

    The sender sees its case and consent, who created and approved; the receiver sees the
    opened share package and who is responsible on its side. Neither sees the other's
    internal records.
    """

    id: uuid.UUID
    number: str
    side: Literal["sender", "receiver"]
    sender_tenant: uuid.UUID
    receiver_tenant: uuid.UUID
    services: list[ReferralService]
    urgency: Urgency
    #: ``None`` once erased (the person the referral was about asked for erasure).
    reason: str | None
    fields: list[str]
    state: ReferralState
    allowed_actions: list[Action]
    blocked_reason: str | None = None
    decline_reason: DeclineReason | None = None
    decline_note: str | None = None
    cancel_reason: CancelReason | None = None
    cancel_note: str | None = None
    outcomes: dict[ReferralService, ServiceOutcome] | None = None
    sent_at: datetime | None = None
    package_purged_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    # Sender only.
    case_id: uuid.UUID | None = None
    consent_id: uuid.UUID | None = None
    created_by: str | None = None
    approved_by: str | None = None
    # Receiver only.
    responsible_user: str | None = None
    package: SharePackageOut | None = None


class ReferralPage(BaseModel):
    items: list[ReferralOut]
    limit: int
    offset: int


class TransitionOut(BaseModel):
    action: str
    from_state: ReferralState | None
    to_state: ReferralState
    actor: str | None
    actor_tenant: uuid.UUID | None
    at: datetime
    reason: str | None
