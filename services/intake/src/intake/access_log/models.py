"""The access log's table: append-only for the application role (migration grants only
INSERT and SELECT), tenant-isolated by FORCE row-level security."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base


class AccessLogEntry(Base):
    """One case's personal data read by one user, for one stated purpose.

    No foreign key to the case: the log outlives a case's erasure, and holds no value of it.
    """

    __tablename__ = "access_log"
    __table_args__ = (
        # The log is read newest first, per NGO, often for one case or one user.
        Index("ix_access_log_tenant_at", "tenant_id", "at"),
        Index("ix_access_log_case_at", "case_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    #: When the reading transaction started (one listing's entries share it).
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[str] = mapped_column(String(64))
    #: The reader's realm roles at the time (caseworker, case_manager, ...).
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    case_id: Mapped[uuid.UUID] = mapped_column()
    #: Names of the fields the answer disclosed (never their values).
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    purpose: Mapped[str] = mapped_column(String(32))
    #: What was read: ``case.read``, ``case.list``, ``family_links.read``, ...
    operation: Mapped[str] = mapped_column(String(48))
