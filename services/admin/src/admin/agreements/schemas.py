from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from admin.schemas import NOT_BLANK, at_most
from tirek.events.referral import ReferralService


class AgreementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_tenant: uuid.UUID
    to_tenant: uuid.UUID
    services: list[ReferralService] = Field(
        default_factory=list, max_length=20, description="empty means every service"
    )
    valid_from: date
    valid_until: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.from_tenant == self.to_tenant:
            raise ValueError("an agreement is between two different tenants")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=NOT_BLANK),
        BeforeValidator(at_most(500)),
    ]


class AgreementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    from_tenant: uuid.UUID
    to_tenant: uuid.UUID
    services: list[str]
    valid_from: date
    valid_until: date | None
    status: str
    granted_by: str
    granted_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None
    revoke_reason: str | None
