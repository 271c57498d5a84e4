from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ARRAY, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from admin.models import Base


class AgreementStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class SharingAgreement(Base):
    """``from_tenant`` may refer cases to ``to_tenant`` for ``services`` (empty: all) between
    ``valid_from`` and ``valid_until``. At most one active agreement per direction."""

    __tablename__ = "sharing_agreements"
    __table_args__ = (
        Index(
            "uq_sharing_agreements_active_pair",
            "from_tenant",
            "to_tenant",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    from_tenant: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    to_tenant: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    services: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    valid_from: Mapped[date]
    valid_until: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))
