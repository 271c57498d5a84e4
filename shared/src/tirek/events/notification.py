"""Contracts published by ``notification``: ``notification.sent`` and ``notification.failed``.

They say that a message about an event reached (or could not reach) a channel. They carry ids,
the channel kind and codes only: no recipient address, no message text, no personal data.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from tirek.events.envelope import Contract
from tirek.events.registry import register

SOURCE = "notification"


class DeliveryFacts(Contract):
    """Which delivery, about which event, over which channel, after how many attempts."""

    delivery_id: uuid.UUID
    about_event_id: uuid.UUID = Field(description="the event the message was about")
    about_event_type: str = Field(description="its type, e.g. referral.sent")
    channel: str = Field(description="inbox | email | webhook | telegram")
    attempts: int
    at: datetime


@register
class NotificationSent(DeliveryFacts):
    event_type = "notification.sent"
    version = 1
    source = SOURCE


@register
class NotificationFailed(DeliveryFacts):
    """Permanently failed: every attempt was used, or the channel refused for good."""

    event_type = "notification.failed"
    version = 1
    source = SOURCE

    reason: str = Field(description="a code, e.g. attempts_exhausted, no_address, refused")
