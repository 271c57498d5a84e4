from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, TenantOwned
from tirek.crypto import SealedField, SealedRecord


class AnonymousContact(SealedRecord, TenantOwned, Base):
    __tablename__ = "anonymous_contacts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    received_on: Mapped[date] = mapped_column(Date, index=True)
    mode: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(48))
    country: Mapped[str | None] = mapped_column(String(2))
    sex: Mapped[str] = mapped_column(String(32))
    project_code: Mapped[str | None] = mapped_column(String(32))
    #: What was advised; the operator writes no name or number here (the API says so).
    notes = SealedField()
    notes_sealed: Mapped[str | None] = mapped_column("notes", Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
