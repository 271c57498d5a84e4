"""API shapes of the access log."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from intake.access_log.purposes import AccessPurpose


class AccessLogEntryOut(BaseModel):
    """Who read which case's personal data, when, which fields, and why."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    user_id: str
    roles: list[str]
    case_id: uuid.UUID
    fields: list[str]
    purpose: AccessPurpose
    operation: str


class AccessLogPage(BaseModel):
    items: list[AccessLogEntryOut]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page")
