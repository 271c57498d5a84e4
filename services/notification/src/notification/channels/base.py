"""The channel plugin interface: one method, ``send(delivery) -> result``, and a registry.

A channel is told everything it needs in an :class:`OutgoingMessage` (the dispatcher opens
the tenant's secrets for it) and answers a :class:`SendResult`: delivered, failed for now
(retried with backoff), or failed for good. ``error`` is a short code — never an address,
a token or message text — because it is stored and shown to the tenant's administrator.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    delivery_id: uuid.UUID
    tenant_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    #: The user it is for (``None``: the tenant as a whole, e.g. its webhook).
    user_id: str | None
    #: Email address, Telegram chat id, or webhook URL.
    address: str | None
    language: str
    subject: str
    body: str
    link: str
    #: The tenant's channel secret (webhook signing key, Telegram bot token), opened.
    secret: str | None = None


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False
    error: str | None = None

    @classmethod
    def delivered(cls) -> SendResult:
        return cls(True)

    @classmethod
    def retry(cls, error: str) -> SendResult:
        return cls(False, False, error[:64])

    @classmethod
    def refused(cls, error: str) -> SendResult:
        return cls(False, True, error[:64])


class Channel(Protocol):
    #: ``inbox``, ``email``, ``webhook``, ``telegram``.
    kind: str

    async def send(self, delivery: OutgoingMessage) -> SendResult: ...


class ChannelRegistry:
    """The channels this process can deliver through, by kind."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def register(self, channel: Channel) -> None:
        self._channels[channel.kind] = channel

    def get(self, kind: str) -> Channel | None:
        return self._channels.get(kind)

    def kinds(self) -> list[str]:
        return list(self._channels)
