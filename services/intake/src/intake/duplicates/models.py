from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, TenantOwned


class DuplicateDecision(TenantOwned, Base):
    """A caseworker's decision on a pair of the NGO's cases: the same person or not.

    The pair is stored once, in id order (``case_a < case_b``), so it reads the same from
    either case. A decision can be changed (a mistake corrected), never merges anything.
    """

    __tablename__ = "duplicate_decisions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "case_a", "case_b", name="tenant_pair"),
        CheckConstraint("case_a < case_b", name="ordered_pair"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_a: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    case_b: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    #: ``confirmed`` (the same person) or ``dismissed`` (not the same).
    decision: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
