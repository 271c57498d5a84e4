from __future__ import annotations

import uuid

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from notification.models import Base, TenantOwned


class Recipient(Base, TenantOwned):
    """A member of an NGO's staff who can be told of events: roles, language, addresses.

    ``preferences`` maps a channel kind to ``immediate`` or ``digest`` (absent: immediate).
    """

    __tablename__ = "recipients"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    language: Mapped[str] = mapped_column(String(8), default="ru")
    email: Mapped[str | None] = mapped_column(String(320))
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64))
    preferences: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
