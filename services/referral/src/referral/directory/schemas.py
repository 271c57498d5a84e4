from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict


class PartnerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tenant_id: uuid.UUID
    code: str
    country: str
    region: str
    names: dict[str, str]
    languages: list[str]
    services_offered: list[str]
    service_areas: list[str]
    contact_hours: str | None
    #: Services your NGO may refer to this one under agreements in force ([] = none).
    you_may_refer_for: list[str]
