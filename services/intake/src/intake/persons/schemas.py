"""API shapes of a person. Picklists follow HTCDS (``prs_Gender``, ISO 3166 nationality)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from tirek.events.intake import Sex

CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$", max_length=8)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _plausible_birth_date(value: date) -> date:
    if value > date.today():
        raise ValueError("birth date is in the future")
    if value.year < 1900:
        raise ValueError("birth date is before 1900")
    return value


BirthDate = Annotated[date, AfterValidator(_plausible_birth_date)]


def reject_nulls(patch: BaseModel, *names: str) -> None:
    """In a patch, a field may be left out but not set to null when the record requires it."""
    emptied = sorted(
        name for name in names if name in patch.model_fields_set and getattr(patch, name) is None
    )
    if emptied:
        raise ValueError(f"{', '.join(emptied)} cannot be null; leave a field out to keep it")


class DocumentType(StrEnum):
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    BIRTH_CERTIFICATE = "birth_certificate"
    RETURN_CERTIFICATE = "return_certificate"
    MIGRATION_CARD = "migration_card"
    RESIDENCE_PERMIT = "residence_permit"
    WORK_PERMIT = "work_permit"
    OTHER = "other"


class DocumentStatus(StrEnum):
    HELD = "held"
    LOST = "lost"
    EXPIRED = "expired"
    CONFISCATED = "confiscated"


class FamilyRelation(StrEnum):
    PARENT = "parent"
    CHILD = "child"
    SPOUSE = "spouse"
    SIBLING = "sibling"
    GUARDIAN = "guardian"
    OTHER_RELATIVE = "other_relative"


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: DocumentType
    status: DocumentStatus
    number: str | None = Field(None, max_length=64)
    issuing_country: CountryCode | None = None


class PersonIn(BaseModel):
    """A person as a caseworker registers them; every field but sex may be unknown."""

    model_config = ConfigDict(extra="forbid")

    first_name: Name | None = None
    second_name: Name | None = Field(None, description="family name (HTCDS prs_SecondName)")
    patronymic: Name | None = None
    name_latin: str | None = Field(None, max_length=400, description="the name in Latin letters")
    sex: Sex
    birth_date: BirthDate | None = None
    estimated_age: int | None = Field(None, ge=0, le=120)
    citizenship: CountryCode | None = None
    languages: list[LanguageCode] = Field(default_factory=list, max_length=10)
    phone: str | None = Field(None, pattern=r"^\+?[1-9]\d{1,14}$", description="E.164")
    current_location: str | None = Field(None, max_length=500)
    documents: list[Document] = Field(default_factory=list, max_length=20)


class PersonPatch(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    first_name: Name | None = None
    second_name: Name | None = None
    patronymic: Name | None = None
    name_latin: str | None = Field(None, max_length=400)
    sex: Sex | None = None
    birth_date: BirthDate | None = None
    estimated_age: int | None = Field(None, ge=0, le=120)
    citizenship: CountryCode | None = None
    languages: list[LanguageCode] | None = Field(None, max_length=10)
    phone: str | None = Field(None, pattern=r"^\+?[1-9]\d{1,14}$")
    current_location: str | None = Field(None, max_length=500)
    documents: list[Document] | None = Field(None, max_length=20)

    @model_validator(mode="after")
    def _required_fields_not_emptied(self) -> PersonPatch:
        # NOT NULL columns: an explicit null would fail in the database (a 500).
        reject_nulls(self, "sex", "languages", "documents")
        return self


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    first_name: str | None
    second_name: str | None
    patronymic: str | None
    name_latin: str | None
    sex: Sex
    birth_date: date | None
    estimated_age: int | None
    citizenship: str | None
    languages: list[str]
    phone: str | None
    current_location: str | None
    documents: list[Document]
    #: When the person's personal data was erased (the fields above are then empty).
    erased_at: datetime | None = None


class FamilyLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    related_person_id: uuid.UUID
    relation: FamilyRelation


class FamilyLinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    related_person_id: uuid.UUID
    relation: FamilyRelation
