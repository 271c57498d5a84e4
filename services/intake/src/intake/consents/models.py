from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ARRAY, Date, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, TenantOwned
from tirek.crypto import SealedField, SealedRecord


class Consent(SealedRecord, TenantOwned, Base):
    __tablename__ = "consents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    #: Names of the fields the consent covers (``first_name``, ``documents``, ...).
    scope: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    #: For a referral: the NGO that may receive the data.
    recipient_tenant: Mapped[uuid.UUID | None] = mapped_column()
    given_by: Mapped[str] = mapped_column(String(16))
    guardian_name = SealedField()
    guardian_name_sealed: Mapped[str | None] = mapped_column("guardian_name", Text)
    method: Mapped[str] = mapped_column(String(32))
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[date | None] = mapped_column(Date)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawal_reason = SealedField()
    withdrawal_reason_sealed: Mapped[str | None] = mapped_column("withdrawal_reason", Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
