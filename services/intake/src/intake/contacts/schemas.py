from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from intake.assistance.schemas import PROJECT_CODE_DESCRIPTION, ProjectCode
from intake.cases.schemas import PastDate
from intake.persons.schemas import CountryCode
from tirek.events.intake import AssistanceMode, ContactTopic, Sex


class ContactIn(BaseModel):
    """An anonymous contact: topic, country and sex, never an identity."""

    model_config = ConfigDict(extra="forbid")

    received_on: PastDate
    mode: AssistanceMode = AssistanceMode.HOTLINE
    topic: ContactTopic
    country: CountryCode | None = Field(None, description="the country the question is about")
    sex: Sex = Sex.UNKNOWN
    project_code: ProjectCode | None = Field(None, description=PROJECT_CODE_DESCRIPTION)
    notes: str | None = Field(
        None, max_length=2000, description="what was advised; no names or numbers"
    )


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    received_on: date
    mode: AssistanceMode
    topic: ContactTopic
    country: str | None
    sex: Sex
    project_code: str | None
    notes: str | None
    recorded_by: str
    created_at: datetime
