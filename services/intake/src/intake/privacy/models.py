"""Tables of data protection: each NGO's retention policy and the record of every erasure."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, DateTime, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, TenantOwned


class RetentionPolicy(TenantOwned, Base):
    """How long an NGO keeps personal data after a person's last case is closed."""

    __tablename__ = "retention_policies"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    #: Years after the closing of the person's last case; NULL: never erased automatically.
    erase_after_years: Mapped[int | None] = mapped_column(SmallInteger)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Erasure(TenantOwned, Base):
    """One erasure of a person's personal data: who, when, why, which records. Ids only."""

    __tablename__ = "erasures"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = mapped_column(index=True, unique=True)
    #: ``request`` (the person asked, through a case manager) or ``retention``.
    basis: Mapped[str] = mapped_column(String(16))
    erased_by: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    case_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    #: Referrals whose share packages held the person (told to purge them: person.erased).
    referral_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
