from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class InboxMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_type: str
    subject: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None


class UnreadCount(BaseModel):
    unread: int
