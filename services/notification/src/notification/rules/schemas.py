from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RuleOut(BaseModel):
    id: str
    event_type: str
    party: str
    role: str | None
    template: str
    description: str
    enabled: bool


class RuleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool
