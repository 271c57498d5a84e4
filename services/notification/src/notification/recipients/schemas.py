from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from notification.templates.render import LANGUAGES
from tirek.web.params import EMAIL

Language = Literal["ru", "kk", "ky", "uz", "kaa", "en"]
Role = Literal["caseworker", "case_manager", "tenant_admin", "coordinator"]
ChannelKind = Literal["inbox", "email", "telegram"]
Mode = Literal["immediate", "digest"]

assert set(LANGUAGES) == set(Language.__args__)  # type: ignore[attr-defined]


class RecipientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[Role] = Field(min_length=1, max_length=4)
    language: Language = "ru"
    email: str | None = Field(None, max_length=320, pattern=EMAIL)
    telegram_chat_id: str | None = Field(None, max_length=64, pattern=r"^-?[0-9]{1,20}$")
    preferences: dict[ChannelKind, Mode] = Field(default_factory=dict)
    active: bool = True


class RecipientOut(RecipientIn):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    user_id: str
