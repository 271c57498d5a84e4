from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base


class Tenant(Base):
    """A partner NGO as intake needs to know it. Holds no personal data, so no RLS."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="ngo")
    names: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
