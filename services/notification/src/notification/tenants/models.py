from __future__ import annotations

import uuid

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from notification.models import Base


class Tenant(Base):
    """A partner NGO as notification needs to know it: its names per language and its kind.
    Holds no personal data, so no RLS (the dispatcher walks every tenant)."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="ngo")
    names: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
