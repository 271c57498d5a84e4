from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ARRAY, Date, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from referral.models import Base, SharedByTwoTenants
from tirek.crypto import SealedField, SealedRecord


class ReturnPlan(SealedRecord, SharedByTwoTenants, Base):
    """How and when the person travels home, and who meets them; one per referral. The free
    text (route, escort, who meets the person) is stored only as ciphertext under the sending
    NGO's data key."""

    __tablename__ = "return_plans"
    __key_owner__ = "sender_tenant"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), unique=True)
    planned_date: Mapped[date] = mapped_column(Date)
    origin_country: Mapped[str] = mapped_column(String(2))
    destination_country: Mapped[str] = mapped_column(String(2))
    route = SealedField()
    route_sealed: Mapped[str | None] = mapped_column("route", Text)
    border_crossing: Mapped[str | None] = mapped_column(String(200))
    transport: Mapped[str | None] = mapped_column(String(16))
    escort = SealedField()
    escort_sealed: Mapped[str | None] = mapped_column("escort", Text)
    documents: Mapped[list[str]] = mapped_column(ARRAY(String(200)))
    met_by = SealedField()
    met_by_sealed: Mapped[str | None] = mapped_column("met_by", Text)
    arrived_on: Mapped[date | None] = mapped_column(Date)
    planned_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
