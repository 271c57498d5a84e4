"""Declarative base of referral's tables, and the columns of a row both NGOs of a referral own."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SharedByTwoTenants:
    """Columns of a row that belongs to a referral's two NGOs, the sender and the receiver.

    These tables get a two-party row-level security policy (see the 0001 migration), not the
    kernel's single ``tenant_id`` one.
    """

    sender_tenant: Mapped[uuid.UUID] = mapped_column(index=True)
    receiver_tenant: Mapped[uuid.UUID] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
