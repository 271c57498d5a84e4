"""API shapes of a case. Picklists come from the event vocabulary (HTCDS-aligned)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from intake.partners.schemas import PartnerHint
from intake.persons.schemas import PersonIn, PersonOut, PersonPatch, reject_nulls
from tirek.events.intake import (
    CaseCategory,
    CaseStatus,
    ClosureReason,
    ExploitationForm,
    RiskLevel,
    TrmStage,
)


def _not_in_future(value: date) -> date:
    if value > date.today():
        raise ValueError("date is in the future")
    return value


PastDate = Annotated[date, AfterValidator(_not_in_future)]
UserId = Annotated[str, Field(min_length=1, max_length=64)]
Notes = Annotated[str, Field(max_length=5000)]


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person: PersonIn
    categories: list[CaseCategory] = Field(min_length=1, max_length=8)
    exploitation_forms: list[ExploitationForm] = Field(default_factory=list, max_length=8)
    trm_stage: TrmStage = TrmStage.IDENTIFICATION
    risk_level: RiskLevel = RiskLevel.MEDIUM
    assigned_to: UserId | None = Field(None, description="defaults to the registering caseworker")
    opened_on: PastDate | None = Field(None, description="defaults to today")
    notes: Notes | None = None


class CasePatch(BaseModel):
    """Fields to change; absent fields stay. ``assigned_to`` is for case managers only."""

    model_config = ConfigDict(extra="forbid")

    person: PersonPatch | None = None
    categories: list[CaseCategory] | None = Field(None, min_length=1, max_length=8)
    exploitation_forms: list[ExploitationForm] | None = Field(None, max_length=8)
    trm_stage: TrmStage | None = None
    status: CaseStatus | None = Field(None, description="active or follow_up; close with /close")
    risk_level: RiskLevel | None = None
    assigned_to: UserId | None = None
    notes: Notes | None = None

    @model_validator(mode="after")
    def _required_fields_not_emptied(self) -> CasePatch:
        # These columns are NOT NULL: an explicit null would fail in the database (a 500).
        reject_nulls(self, "categories", "exploitation_forms", "trm_stage", "status", "risk_level")
        return self


class CaseClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ClosureReason
    closed_on: PastDate | None = None


class DuplicateHint(BaseModel):
    """Another case of the NGO whose person may be the same (same name key or document)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    opened_on: date
    status: CaseStatus


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    person: PersonOut
    categories: list[CaseCategory]
    exploitation_forms: list[ExploitationForm]
    trm_stage: TrmStage
    status: CaseStatus
    risk_level: RiskLevel
    assigned_to: str | None
    opened_on: date
    closed_on: date | None
    closure_reason: ClosureReason | None
    origin_referral_id: uuid.UUID | None
    notes: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    revision: int
    #: On registration: cases that may be about the same person. A suggestion only — the
    #: caseworker decides; nothing is merged.
    possible_duplicates: list[DuplicateHint] = Field(default_factory=list)
    #: On registration: partner NGOs that may already know this person (same name in any
    #: spelling, birth year and citizenship) and that your NGO may refer to — you can request
    #: a referral. Nothing of their case is revealed.
    partner_hints: list[PartnerHint] = Field(default_factory=list)


class PersonNames(BaseModel):
    """The names a caseworker scans a case list by (reading them is access-logged)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    first_name: str | None
    second_name: str | None
    patronymic: str | None
    name_latin: str | None


class CaseSummary(BaseModel):
    """A row of the case list: no personal data beyond what a caseworker scans a list by."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    person: PersonNames
    categories: list[CaseCategory]
    trm_stage: TrmStage
    status: CaseStatus
    risk_level: RiskLevel
    assigned_to: str | None
    opened_on: date
    closed_on: date | None


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page")
