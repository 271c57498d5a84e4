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
from tirek.crypto import SealedField, SealedRecord


class Referral(SealedRecord, SharedByTwoTenants, Base):
    """A request from one NGO (sender) to another (receiver) for named services.

    Its free text (the reason, the decline and cancel notes) is stored only as ciphertext under
    the sending NGO's data key (:mod:`referral.privacy`).
    """

    __tablename__ = "referrals"
    __key_owner__ = "sender_tenant"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    #: The sender's case; never shown to the receiver (the cases know each other by referral id).
    case_id: Mapped[uuid.UUID] = mapped_column(index=True)
    consent_id: Mapped[uuid.UUID] = mapped_column(index=True)
    services: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    urgency: Mapped[str] = mapped_column(String(16))
    reason = SealedField()
    reason_sealed: Mapped[str | None] = mapped_column("reason", Text)
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
    decline_note = SealedField()
    decline_note_sealed: Mapped[str | None] = mapped_column("decline_note", Text)
    cancel_reason: Mapped[str | None] = mapped_column(String(48))
    cancel_note = SealedField()
    cancel_note_sealed: Mapped[str | None] = mapped_column("cancel_note", Text)
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


class SharePackage(SealedRecord, SharedByTwoTenants, Base):
    """The share package intake sealed for the receiver, opened on receipt and stored
    encrypted under the RECEIVER's data key (the one NGO that reads it). A row from before
    encryption at rest (``key_version`` NULL) still holds intake's transport seal."""

    __tablename__ = "share_packages"
    __key_owner__ = "receiver_tenant"
    __key_row__ = "referral_id"

    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), primary_key=True)
    consent_id: Mapped[uuid.UUID] = mapped_column()
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    package = SealedField("json")
    package_sealed: Mapped[str | None] = mapped_column("sealed", Text)
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
