from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from notification.models import Base, TenantOwned


class Delivery(Base, TenantOwned):
    """One message about one event, to one recipient, over one channel.

    Unique per (tenant, event, recipient, channel): a redelivered event adds nothing.
    ``status``: ``pending`` (due at ``next_attempt_at``), ``held`` (waits for the recipient's
    digest at ``next_attempt_at``), ``sent``, ``failed`` (for good), ``digested`` (went out
    inside the digest ``digest_id``).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "event_id", "recipient_key", "channel"),
        Index("ix_deliveries_due", "tenant_id", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(80))
    #: The recipient's user id, or ``tenant`` for a per-tenant channel (webhook).
    recipient_key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(2000))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    digest_id: Mapped[uuid.UUID | None]


class DeliveryAttempt(Base, TenantOwned):
    """One try of a delivery: when, and how it ended (an error code, never message text)."""

    __tablename__ = "delivery_attempts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id"), index=True)
    number: Mapped[int]
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ok: Mapped[bool]
    error: Mapped[str | None] = mapped_column(String(64))
