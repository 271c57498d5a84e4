from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from referral.models import Base, SharedByTwoTenants


class Referral(SharedByTwoTenants, Base):
    """A request from one NGO (sender) to another (receiver) for named services."""

    __tablename__ = "referrals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    #: The sender's case; never shown to the receiver (the cases know each other by referral id).
    case_id: Mapped[uuid.UUID] = mapped_column(index=True)
    consent_id: Mapped[uuid.UUID] = mapped_column(index=True)
    services: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    urgency: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    #: Names of the fields to share (the consent must cover them; intake checks).
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    state: Mapped[str] = mapped_column(String(32), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    blocked_reason: Mapped[str | None] = mapped_column(String(64))
    #: Set when the share package arrived: from then on the receiver sees the referral.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responsible_user: Mapped[str | None] = mapped_column(String(64))
    decline_reason: Mapped[str | None] = mapped_column(String(48))
    decline_note: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(String(48))
    cancel_note: Mapped[str | None] = mapped_column(Text)
    cancelled_by_tenant: Mapped[uuid.UUID | None] = mapped_column()
    outcomes: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    package_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReferralTransition(SharedByTwoTenants, Base):
    """One row of a referral's history: who moved it from where to where, when, and why."""

    __tablename__ = "referral_transitions"

    #: Orders transitions that share one clock reading.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    #: User id (``sub``); ``None`` for the saga with intake.
    actor: Mapped[str | None] = mapped_column(String(64))
    actor_tenant: Mapped[uuid.UUID | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(String(64))


class SharePackage(SharedByTwoTenants, Base):
    """The share package as intake sealed it for the receiver: stored sealed, opened on read."""

    __tablename__ = "share_packages"

    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), primary_key=True)
    consent_id: Mapped[uuid.UUID] = mapped_column()
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    sealed: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReferralParties(Base):
    """Who a referral is between, and under which consent: ids only, no row-level security.

    Events from intake (``share.*``, ``consent.withdrawn``) name a referral or a consent, not
    the tenant to act as; handlers look the parties up here, then work tenant-scoped.
    """

    __tablename__ = "referral_parties"

    referral_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sender_tenant: Mapped[uuid.UUID] = mapped_column()
    receiver_tenant: Mapped[uuid.UUID] = mapped_column()
    consent_id: Mapped[uuid.UUID] = mapped_column(index=True)


class ReferralNumberCounter(Base):
    """Last referral number given per sending NGO and year (R-KZ-AKT-2026-000012)."""

    __tablename__ = "referral_number_counters"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)
