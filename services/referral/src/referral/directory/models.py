from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, String, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from referral.models import Base


class Partner(Base):
    """An NGO of the consortium as the directory shows it (from ``tenant.*`` events).

    No row-level security: the directory is what every NGO may read about every other.
    """

    __tablename__ = "partners"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8))
    country: Mapped[str] = mapped_column(String(2), index=True)
    region: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    names: Mapped[dict[str, str]] = mapped_column(JSONB)
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(8)))
    services_offered: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    service_areas: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    contact_hours: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SharingAgreement(Base):
    """``from_tenant`` may refer cases to ``to_tenant`` for ``services`` (empty: all)."""

    __tablename__ = "sharing_agreements"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    from_tenant: Mapped[uuid.UUID] = mapped_column(index=True)
    to_tenant: Mapped[uuid.UUID] = mapped_column(index=True)
    services: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
