from __future__ import annotations

import uuid

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from notification.models import Base, TenantOwned


class ChannelConfig(Base, TenantOwned):
    """A tenant's settings for one channel kind. No row: the kind's default applies
    (inbox and email on, webhook and Telegram off until configured)."""

    __tablename__ = "channel_configs"

    #: One row per tenant and kind.
    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    #: Webhook URL (other kinds: none).
    url: Mapped[str | None] = mapped_column(String(2000))
    #: Webhook signing secret or Telegram bot token, sealed for the tenant (tirek.crypto).
    secret_sealed: Mapped[str | None] = mapped_column(Text)
