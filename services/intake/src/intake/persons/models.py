"""Person tables (HTCDS ``prs_``). Personal data: never leaves intake except in a share package.

Encryption at rest of these fields is the data-protection issue's work; until then they are
protected by row-level security and by never appearing in events or logs.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Date, ForeignKey, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, TenantOwned


class Person(TenantOwned, Base):
    __tablename__ = "persons"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    #: Names as written in the original script (Cyrillic, Latin...) and in Latin letters.
    first_name: Mapped[str | None] = mapped_column(String(200))
    second_name: Mapped[str | None] = mapped_column(String(200))  # HTCDS: family name
    patronymic: Mapped[str | None] = mapped_column(String(200))
    name_latin: Mapped[str | None] = mapped_column(String(400))
    sex: Mapped[str] = mapped_column(String(32))
    birth_date: Mapped[date | None] = mapped_column(Date)
    estimated_age: Mapped[int | None] = mapped_column(SmallInteger)
    citizenship: Mapped[str | None] = mapped_column(String(2))
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(8)), default=list)
    phone: Mapped[str | None] = mapped_column(String(32))
    current_location: Mapped[str | None] = mapped_column(Text)
    #: [{"type": "passport", "number": "...", "issuing_country": "KG", "status": "confiscated"}]
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    #: Blind indexes (intake.persons.search): exact search without the values in the index.
    name_indexes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    document_indexes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)


class FamilyLink(TenantOwned, Base):
    __tablename__ = "family_links"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), index=True)
    related_person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"))
    relation: Mapped[str] = mapped_column(String(32))
