from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from admin.schemas import NOT_BLANK, at_most


class ResolutionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    reason: str
    actor: str
    at: datetime
    replay_msg_id: str | None


class DeadLetterOut(BaseModel):
    """A dead letter: where it came from, who gave up on it and why (no message body)."""

    sequence: int
    consumer: str
    reason: str
    deliveries: int
    original_subject: str
    original_stream: str
    original_sequence: int
    original_msg_id: str | None
    dead_lettered_at: datetime | None
    resolution: ResolutionOut | None


class DeadLetterDetail(DeadLetterOut):
    """One dead letter with its body: parsed JSON (an event envelope), else ``body_text``."""

    body: Any | None
    body_text: str | None


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=NOT_BLANK),
        BeforeValidator(at_most(500)),
    ]
