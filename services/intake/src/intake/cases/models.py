from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY  # has contains() (@>), the generic one not
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.models import Base, TenantOwned
from intake.persons.models import Person
from tirek.crypto import SealedField, SealedRecord


class Case(SealedRecord, TenantOwned, Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number", name="tenant_number"),
        # One linked case per accepted referral in a tenant (the saga's idempotency backstop).
        UniqueConstraint("tenant_id", "origin_referral_id", name="tenant_origin_referral"),
    )
    # Read updated_at back with RETURNING on UPDATE too (the default does it on INSERT only):
    # an expired attribute would be lazy-loaded while the response is built, which async
    # SQLAlchemy refuses (MissingGreenlet, a 500 on every update and close).
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    #: Human-readable, per tenant and year: KZ-AKT-2026-000123.
    number: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), index=True)
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    exploitation_forms: Mapped[list[str]] = mapped_column(ARRAY(String(48)), default=list)
    trm_stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    risk_level: Mapped[str] = mapped_column(String(16))
    assigned_to: Mapped[str | None] = mapped_column(String(64), index=True)
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    closure_reason: Mapped[str | None] = mapped_column(String(32))
    origin_referral_id: Mapped[uuid.UUID | None] = mapped_column()
    #: Age band at registration (tirek.events.intake.AgeBand), derived before the birth date
    #: is encrypted: what reporting needs, kept when the person is erased.
    age_band: Mapped[str] = mapped_column(String(16))
    notes = SealedField()
    notes_sealed: Mapped[str | None] = mapped_column("notes", Text)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    #: Optimistic concurrency: bumped on every change.
    revision: Mapped[int] = mapped_column(Integer, default=1)

    person: Mapped[Person] = relationship(lazy="joined")


class CaseNumberCounter(Base):
    """Last case number issued per tenant and year (row-locked by the upsert that bumps it)."""

    __tablename__ = "case_number_counters"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)
