"""The share packages intake prepared for approved referrals, and the record of every copy."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, TenantOwned
from tirek.crypto import SealedField, SealedRecord


class SharePackage(SealedRecord, TenantOwned, Base):
    """One approved referral's package, held by the SENDING NGO (``tenant_id``).

    Kept so that the linked case can be opened in the receiver's tenant when the referral is
    accepted; deleted when the consent it was shared under is withdrawn, or the person erased.
    At rest it is encrypted under the sender's data key like any personal field (the copy that
    travelled was sealed for the receiver, :func:`tirek.crypto.seal`). A row from before
    encryption at rest (``key_version`` NULL) still holds that transport seal.
    """

    __tablename__ = "share_packages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    #: The referral service's id; one package per referral.
    referral_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    receiver_tenant: Mapped[uuid.UUID] = mapped_column()
    consent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consents.id"), index=True)
    #: Names of the fields inside the package (never their values).
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    package = SealedField("json")
    package_sealed: Mapped[str | None] = mapped_column("sealed", Text)


class SharedCopy(TenantOwned, Base):
    """That a person's data went to another NGO under a referral: ids and field names only.

    Written when a package is prepared and never deleted with it: when the person is erased,
    these rows name every referral whose package held them (``person.erased``), so every
    holder purges its copy.
    """

    __tablename__ = "shared_copies"

    referral_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(index=True)
    receiver_tenant: Mapped[uuid.UUID] = mapped_column()
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    shared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
