"""API shapes of erasure, retention and the subject-access export."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from intake.assistance.schemas import AssistanceOut
from intake.cases.schemas import CaseOut
from intake.consents.schemas import ConsentOut
from intake.persons.schemas import FamilyLinkOut, PersonOut
from tirek.events.intake import ErasureBasis


class ErasureIn(BaseModel):
    """A case manager's request to erase a person: the person's id again, as a confirmation."""

    model_config = ConfigDict(extra="forbid")

    confirm_person_id: uuid.UUID = Field(description="the id of the person to erase, again")


class ErasureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    basis: ErasureBasis
    erased_by: str
    erased_at: datetime
    case_ids: list[uuid.UUID]
    referral_ids: list[uuid.UUID] = Field(
        description="referrals whose share packages held the person: their holders purge them"
    )


class RetentionPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    erase_after_years: int | None = Field(
        ...,
        ge=1,
        le=100,
        description="years after a person's last case closed; null: never erase automatically",
    )


class RetentionPolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    erase_after_years: int | None
    updated_by: str | None = None
    updated_at: datetime | None = None


class DueErasureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    person_id: uuid.UUID
    case_ids: list[uuid.UUID]
    case_numbers: list[str]
    last_closed_on: date
    due_on: date


class DueErasures(BaseModel):
    """What the policy erases when the retention job runs on ``on`` (a dry run)."""

    on: date
    erase_after_years: int | None
    items: list[DueErasureOut]


class SharedCopyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    referral_id: uuid.UUID
    case_id: uuid.UUID
    receiver_tenant: uuid.UUID
    fields: list[str]
    shared_at: datetime


class CaseExport(CaseOut):
    """A case of the person, with what was recorded on it."""

    assistance: list[AssistanceOut] = Field(default_factory=list)
    consents: list[ConsentOut] = Field(default_factory=list)


class PersonExport(BaseModel):
    """Everything intake holds about one person (a subject-access request), as JSON."""

    exported_at: datetime
    organisation: uuid.UUID
    person: PersonOut
    cases: list[CaseExport]
    family_links: list[FamilyLinkOut]
    shared_with: list[SharedCopyOut] = Field(
        description="every copy of the person's data sent to another NGO under a referral"
    )
    erasure: ErasureOut | None = None
