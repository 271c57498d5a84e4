from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tirek.events.intake import ConsentGiver, ConsentMethod, ConsentPurpose


class ShareableField(StrEnum):
    """Fields of a person and case that a consent can cover (and a referral can share)."""

    FIRST_NAME = "first_name"
    SECOND_NAME = "second_name"
    PATRONYMIC = "patronymic"
    NAME_LATIN = "name_latin"
    SEX = "sex"
    BIRTH_DATE = "birth_date"
    CITIZENSHIP = "citizenship"
    LANGUAGES = "languages"
    PHONE = "phone"
    CURRENT_LOCATION = "current_location"
    DOCUMENTS = "documents"
    CATEGORIES = "categories"
    EXPLOITATION_FORMS = "exploitation_forms"
    RISK_LEVEL = "risk_level"
    ASSISTANCE_HISTORY = "assistance_history"


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: ConsentPurpose
    scope: list[ShareableField] = Field(min_length=1, max_length=len(ShareableField))
    recipient_tenant: uuid.UUID | None = Field(
        None, description="required for a referral consent: the NGO that may receive the data"
    )
    given_by: ConsentGiver = ConsentGiver.PERSON
    guardian_name: str | None = Field(None, max_length=200)
    method: ConsentMethod
    given_at: datetime
    valid_until: date | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ConsentIn:
        if self.purpose is ConsentPurpose.REFERRAL and self.recipient_tenant is None:
            raise ValueError("a referral consent names the receiving NGO (recipient_tenant)")
        if self.given_by is ConsentGiver.GUARDIAN and not self.guardian_name:
            raise ValueError("a guardian's consent names the guardian")
        if self.given_at.tzinfo is None:
            raise ValueError("given_at needs a time zone")
        if self.given_at.year < 1900:
            # Also keeps the value storable: year 1 east of UTC underflows in PostgreSQL.
            raise ValueError("given_at is before 1900")
        if self.given_at > datetime.now(self.given_at.tzinfo):
            raise ValueError("given_at is in the future")
        if self.valid_until is not None and self.valid_until < self.given_at.date():
            raise ValueError("valid_until is before given_at")
        return self


class ConsentWithdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=2000)


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    purpose: ConsentPurpose
    scope: list[ShareableField]
    recipient_tenant: uuid.UUID | None
    given_by: ConsentGiver
    guardian_name: str | None
    method: ConsentMethod
    given_at: datetime
    valid_until: date | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    recorded_by: str
