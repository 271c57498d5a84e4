"""Person tables (HTCDS ``prs_``). Personal data: never leaves intake except in a share package.

Names, birth date, phone, location and documents are stored only as ciphertext under the
NGO's data key (:mod:`intake.privacy`); the columns keep their names and hold ``tk1.…``
text. What search, statistics and duplicate hints need is kept beside them, derived before
encryption: blind indexes of the name and document numbers, and the birth year.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, TenantOwned
from tirek.crypto import SealedField, SealedRecord


class Person(SealedRecord, TenantOwned, Base):
    __tablename__ = "persons"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    #: Names as written in the original script (Cyrillic, Latin...) and in Latin letters.
    first_name = SealedField()
    first_name_sealed: Mapped[str | None] = mapped_column("first_name", Text)
    second_name = SealedField()  # HTCDS: family name
    second_name_sealed: Mapped[str | None] = mapped_column("second_name", Text)
    patronymic = SealedField()
    patronymic_sealed: Mapped[str | None] = mapped_column("patronymic", Text)
    name_latin = SealedField()
    name_latin_sealed: Mapped[str | None] = mapped_column("name_latin", Text)
    sex: Mapped[str] = mapped_column(String(32))
    birth_date = SealedField("date")
    birth_date_sealed: Mapped[str | None] = mapped_column("birth_date", Text)
    #: The year of the birth date, kept in clear for duplicate hints (never the date).
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    estimated_age: Mapped[int | None] = mapped_column(SmallInteger)
    citizenship: Mapped[str | None] = mapped_column(String(2))
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(8)), default=list)
    phone = SealedField()
    phone_sealed: Mapped[str | None] = mapped_column("phone", Text)
    current_location = SealedField()
    current_location_sealed: Mapped[str | None] = mapped_column("current_location", Text)
    #: [{"type": "passport", "number": "...", "issuing_country": "KG", "status": "confiscated"}]
    documents = SealedField("json", empty=[])
    documents_sealed: Mapped[str | None] = mapped_column("documents", Text)
    #: Blind indexes (intake.persons.search): exact search without the values in the index.
    name_indexes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    document_indexes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    #: When the person's personal data was erased (on request or by retention).
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def set_birth_date(self, value: date | None) -> None:
        """The birth date, and the birth year derived from it before it is encrypted."""
        self.birth_date = value
        self.birth_year = value.year if value is not None else None

    @property
    def fields(self) -> dict[str, Any]:
        """Every field a caseworker registers, by name (opened)."""
        return {name: getattr(self, name) for name in PERSON_FIELDS}


#: The person fields of the API (PersonIn), in order.
PERSON_FIELDS = (
    "first_name",
    "second_name",
    "patronymic",
    "name_latin",
    "sex",
    "birth_date",
    "estimated_age",
    "citizenship",
    "languages",
    "phone",
    "current_location",
    "documents",
)


class FamilyLink(TenantOwned, Base):
    __tablename__ = "family_links"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), index=True)
    related_person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"))
    relation: Mapped[str] = mapped_column(String(32))
