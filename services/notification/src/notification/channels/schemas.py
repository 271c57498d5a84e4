from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ChannelKind = Literal["inbox", "email", "webhook", "telegram"]


class ChannelIn(BaseModel):
    """A channel's settings. ``secret`` (webhook key, Telegram token) is write-only: it is
    stored sealed and never returned; omit it to keep the current one."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    url: str | None = Field(None, max_length=2000, pattern=r"^https?://[^\s]+$")
    secret: str | None = Field(None, min_length=8, max_length=512, pattern=r"^[\x21-\x7e]+$")


class ChannelOut(BaseModel):
    kind: ChannelKind
    enabled: bool
    url: str | None
    has_secret: bool
