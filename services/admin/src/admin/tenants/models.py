from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ARRAY, DateTime, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from admin.models import Base


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    #: Leaving: its users may not act, its tenant administrators may download its exports.
    OFFBOARDING = "offboarding"
    #: Gone: every service erased its rows; this row stays as the platform's record.
    OFFBOARDED = "offboarded"


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


class TenantOffboarding(Base):
    """The audit of one offboarding: who started it and why, who confirmed (or cancelled) it.

    A tenant has at most one open offboarding (``confirmed_at`` and ``cancelled_at`` null);
    a cancelled one stays, and a later offboarding adds a row.
    """

    __tablename__ = "tenant_offboardings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    #: The leaving tenant (not ``tenant_id``: admin's rows are the platform's, not an NGO's,
    #: and carry no row-level security).
    tenant: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    start_reason: Mapped[str] = mapped_column(String(500))
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirm_reason: Mapped[str | None] = mapped_column(String(500))
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Users the identity provider deleted on confirmation.
    users_removed: Mapped[int | None] = mapped_column()
    #: Active sharing agreements revoked on confirmation.
    agreements_revoked: Mapped[int | None] = mapped_column()
