from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Transport(StrEnum):
    BUS = "bus"
    TRAIN = "train"
    AIR = "air"
    CAR = "car"
    OTHER = "other"


Country = Field(pattern=r"^[A-Z]{2}$")


class ReturnPlanIn(BaseModel):
    """A return plan. The countries default to the sender's and the receiver's."""

    model_config = ConfigDict(extra="forbid")

    planned_date: date
    route: str | None = Field(None, max_length=2000)
    origin_country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    destination_country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    border_crossing: str | None = Field(None, max_length=200)
    transport: Transport | None = None
    escort: str | None = Field(None, max_length=2000, description="who travels with the person")
    documents: list[str] = Field(
        default_factory=list, max_length=30, description="documents that travel with the person"
    )
    met_by: str | None = Field(None, max_length=2000, description="who meets the person")


class ReturnPlanPatch(BaseModel):
    """Only the fields sent change (``null`` clears an optional one)."""

    model_config = ConfigDict(extra="forbid")

    planned_date: date | None = None
    route: str | None = Field(None, max_length=2000)
    border_crossing: str | None = Field(None, max_length=200)
    transport: Transport | None = None
    escort: str | None = Field(None, max_length=2000)
    documents: list[str] | None = Field(None, max_length=30)
    met_by: str | None = Field(None, max_length=2000)


class ArrivalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arrived_on: date | None = Field(None, description="defaults to today")


class ReturnPlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    referral_id: uuid.UUID
    planned_date: date
    origin_country: str
    destination_country: str
    route: str | None
    border_crossing: str | None
    transport: Transport | None
    escort: str | None
    documents: list[str]
    met_by: str | None
    arrived_on: date | None
    planned_by: str
    updated_at: datetime
