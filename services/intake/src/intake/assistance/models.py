from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, TenantOwned
from tirek.crypto import SealedField, SealedRecord


class AssistanceRecord(SealedRecord, TenantOwned, Base):
    __tablename__ = "assistance_records"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    type: Mapped[str] = mapped_column(String(48))
    mode: Mapped[str] = mapped_column(String(32))
    provided_on: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(32))
    project_code: Mapped[str | None] = mapped_column(String(32))
    notes = SealedField()
    notes_sealed: Mapped[str | None] = mapped_column("notes", Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
