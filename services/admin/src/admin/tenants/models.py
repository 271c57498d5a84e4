from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ARRAY, DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from admin.models import Base


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(Base):
    """An NGO (or the consortium's coordinating body) on the platform. Its id is Tirek's
    tenant id: the ``tenant`` of every event about it, and the ``tirek_tenant_id`` attribute
    of its organization in the identity provider (which gives the organization an id of its
    own; see ``admin.identity.keycloak``)."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(5), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    names: Mapped[dict[str, str]] = mapped_column(JSONB)
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(8)))
    services_offered: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    service_areas: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    contact_hours: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
