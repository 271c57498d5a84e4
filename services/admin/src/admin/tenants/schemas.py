from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from admin.schemas import NOT_BLANK, at_most
from tirek.events.referral import ReferralService


class Language(StrEnum):
    """Languages the platform speaks (DESIGN.md)."""

    RU = "ru"
    KK = "kk"
    KY = "ky"
    UZ = "uz"
    KAA = "kaa"
    EN = "en"


class TenantKind(StrEnum):
    NGO = "ngo"
    COORDINATION = "coordination"


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NOT_BLANK),
    BeforeValidator(at_most(100)),
]
Names = Annotated[
    dict[
        Language,
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK
            ),
            BeforeValidator(at_most(200)),
        ],
    ],
    Field(min_length=1),
]


class _Directory(BaseModel):
    """What the partner directory shows of a tenant (shared by create and update)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("languages", "services_offered", "service_areas", check_fields=False)
    @classmethod
    def _unique(cls, values: list[str] | None) -> list[str] | None:
        # Duplicates are a typo, not a meaning: keep the first of each, in order.
        return list(dict.fromkeys(values)) if values is not None else None


class TenantIn(_Directory):
    code: str = Field(pattern=r"^[A-Z]{2,5}$", description="short code used in case numbers")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    region: Text
    kind: TenantKind = TenantKind.NGO
    names: Names
    languages: list[Language] = Field(default_factory=list, max_length=6)
    services_offered: list[ReferralService] = Field(default_factory=list, max_length=20)
    service_areas: list[Text] = Field(default_factory=list, max_length=50)
    contact_hours: Text | None = None


class TenantPatch(_Directory):
    """Fields to change; absent fields stay. ``code`` and ``kind`` never change (case numbers
    carry the code)."""

    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    region: Text | None = None
    names: Names | None = None
    languages: list[Language] | None = Field(None, max_length=6)
    services_offered: list[ReferralService] | None = Field(None, max_length=20)
    service_areas: list[Text] | None = Field(None, max_length=50)
    contact_hours: Text | None = None


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    country: str
    region: str
    kind: str
    names: dict[str, str]
    languages: list[str]
    services_offered: list[str]
    service_areas: list[str]
    contact_hours: str | None
    status: str
    created_at: datetime
    updated_at: datetime


Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=NOT_BLANK),
    BeforeValidator(at_most(500)),
]


class OffboardingStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class OffboardingConfirmIn(BaseModel):
    """The second, explicit call: it names the tenant it erases."""

    model_config = ConfigDict(extra="forbid")

    confirm_code: str = Field(max_length=5, description="the tenant's code, as a confirmation")
    reason: Reason


class OffboardingOut(BaseModel):
    """An offboarding's audit, with the tenant's status now."""

    model_config = ConfigDict(from_attributes=True)

    tenant_id: uuid.UUID
    tenant_status: str
    started_by: str
    started_at: datetime
    start_reason: str
    confirmed_by: str | None
    confirmed_at: datetime | None
    confirm_reason: str | None
    cancelled_by: str | None
    cancelled_at: datetime | None
    users_removed: int | None
    agreements_revoked: int | None
