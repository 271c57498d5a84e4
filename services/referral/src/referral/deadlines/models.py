from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referral.models import Base


class Deadline(Base):
    """A persisted due date. Ids and times only, so no row-level security: the scanner reads
    every tenant's deadlines, then acts on each one tenant-scoped.

    ``period_seconds`` repeats the deadline (an unanswered referral is overdue again every
    period); ``None`` fires once. ``fired_periods`` counts the periods already announced, so a
    restarted scanner never announces one twice.
    """

    __tablename__ = "deadlines"
    __table_args__ = (UniqueConstraint("kind", "referral_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    referral_id: Mapped[uuid.UUID] = mapped_column()
    sender_tenant: Mapped[uuid.UUID] = mapped_column()
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    period_seconds: Mapped[int | None] = mapped_column(Integer)
    fired_periods: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
