from __future__ import annotations

import uuid

from pydantic import BaseModel


class PartnerHint(BaseModel):
    """A partner NGO may already know this person — you can request a referral.

    Only the NGO is named (a referral needs an addressee); nothing of its case is revealed.
    Shown only where an agreement in force lets your NGO refer to it.
    """

    tenant_id: uuid.UUID
    code: str
    country: str
    #: The NGO's name in your language (else Russian, else English, else its code).
    name: str
