"""API shapes of duplicate suggestions and decisions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from intake.partners.schemas import PartnerHint
from tirek.events.intake import CaseStatus


class Decision(StrEnum):
    """What the caseworker decided about a pair of cases."""

    CONFIRMED = "confirmed"  # the same person
    DISMISSED = "dismissed"  # not the same person


class SuggestionState(StrEnum):
    SUGGESTED = "suggested"  # matched, no decision yet
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class MatchedOn(StrEnum):
    NAME = "name"  # the same name in any alphabet or spelling
    DOCUMENT = "document"  # the same document number


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision


class DuplicateOut(BaseModel):
    """Another case of your NGO that may be (or was confirmed to be) about the same person."""

    case_id: uuid.UUID
    number: str
    opened_on: date
    status: CaseStatus
    state: SuggestionState
    #: Why the cases match now; empty for a decided pair that no longer matches.
    matched_on: list[MatchedOn]
    decided_by: str | None = None
    decided_at: datetime | None = None


class DuplicatesOut(BaseModel):
    items: list[DuplicateOut]
    #: Partner NGOs that may already know this person (see ``partners``).
    partner_hints: list[PartnerHint] = Field(default_factory=list)
