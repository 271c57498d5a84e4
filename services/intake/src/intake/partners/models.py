from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, TenantOwned


class SharingAgreement(Base):
    """``from_tenant`` may refer cases to ``to_tenant`` (from ``agreement.*`` events).

    No one tenant's data, so no row-level security. A revocation that arrives before its
    grant leaves a row with the revocation only; the grant then fills the parties and the
    agreement stays revoked (admin grants a revoked agreement anew under a new id).
    """

    __tablename__ = "sharing_agreements"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    from_tenant: Mapped[uuid.UUID | None] = mapped_column(index=True)
    to_tenant: Mapped[uuid.UUID | None] = mapped_column()
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PartnerHintIndex(TenantOwned, Base):
    """One consortium-keyed index of a person (a person has one per spelling of the name).

    FORCE row-level security like every tenant table; only the lookup function sees across
    tenants, and it answers tenant ids only.
    """

    __tablename__ = "partner_hints"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    hint: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
