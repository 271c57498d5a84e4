from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from admin.models import Base


class DeadLetterAction(StrEnum):
    REPLAYED = "replayed"
    DISCARDED = "discarded"


class DeadLetterResolution(Base):
    """Audit of what a platform administrator did with a dead letter: who, when, why.

    One row per dead letter (its ``DLQ`` stream sequence, unique): a dead letter is replayed
    or discarded once. A replay that fails again comes back as a new dead letter.
    """

    __tablename__ = "dead_letter_resolutions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    dlq_sequence: Mapped[int] = mapped_column(BigInteger, unique=True)
    consumer: Mapped[str] = mapped_column(String(64))
    original_subject: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The ``Nats-Msg-Id`` the replay was published with (replays only).
    replay_msg_id: Mapped[str | None] = mapped_column(String(128))
