from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from referral.models import Base, SharedByTwoTenants
from tirek.crypto import SealedField, SealedRecord


class ReferralMessage(SealedRecord, SharedByTwoTenants, Base):
    """A message on a referral's thread, visible to its two NGOs only; its body is stored
    only as ciphertext under the sending NGO's data key."""

    __tablename__ = "referral_messages"
    __key_owner__ = "sender_tenant"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), index=True)
    author_tenant: Mapped[uuid.UUID] = mapped_column()
    author_user: Mapped[str] = mapped_column(String(64))
    body = SealedField()
    body_sealed: Mapped[str | None] = mapped_column("body", Text)
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
