"""The share packages intake prepared for approved referrals (sealed for the receiver)."""

from __future__ import annotations

import uuid

from sqlalchemy import ARRAY, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, TenantOwned


class SharePackage(TenantOwned, Base):
    """One approved referral's package, held by the SENDING NGO (``tenant_id``).

    Only ciphertext is stored (sealed for ``receiver_tenant``, bound to the referral id): the
    copy is kept so that the linked case can be opened in the receiver's tenant when the
    referral is accepted, and is deleted when the consent it was shared under is withdrawn.
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
    sealed: Mapped[str] = mapped_column(Text)
