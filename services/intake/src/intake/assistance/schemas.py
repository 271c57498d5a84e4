from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from intake.cases.schemas import PastDate
from tirek.events.intake import AssistanceMode, AssistanceOutcome, AssistanceType


def _not_reserved(code: str) -> str:
    """Reports show ``none`` for the records that name no project: a project of that name
    would be counted with them."""
    if code.lower() == "none":
        raise ValueError("`none` is how reports show records without a project: leave it out")
    return code


PROJECT_CODE_DESCRIPTION = (
    "the project/donor it counts for; `none` is reserved (reports show it for records without"
    " a project)"
)
ProjectCode = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"), AfterValidator(_not_reserved)
]


class AssistanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: AssistanceType
    mode: AssistanceMode
    provided_on: PastDate
    outcome: AssistanceOutcome = AssistanceOutcome.PROVIDED
    project_code: ProjectCode | None = Field(None, description=PROJECT_CODE_DESCRIPTION)
    notes: str | None = Field(None, max_length=5000)


class AssistanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    type: AssistanceType
    mode: AssistanceMode
    provided_on: date
    outcome: AssistanceOutcome
    project_code: str | None
    notes: str | None
    recorded_by: str
    created_at: datetime
