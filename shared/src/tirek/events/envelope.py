"""The event envelope (CloudEvents-like) and the contract base class.

Every event on the wire is an :class:`Envelope` serialised as JSON. ``id`` doubles as the
``Nats-Msg-Id`` header so JetStream drops duplicates; ``trace`` carries the W3C traceparent
(also sent as a NATS header). ``data`` is one of the typed contracts registered in
:mod:`tirek.events.registry`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Contract(BaseModel):
    """Base of every event payload.

    Subclasses set ``event_type`` (``case.registered``), ``version`` (an integer per type) and
    ``source`` (the producing service). Payloads are additive within a version; anything else
    is a new version, kept alongside the old one while it is still published.

    ``parties`` names the payload's tenant fields of which the envelope's ``tenant`` (the
    acting tenant) must be one: a ``referral.*`` event acted by a tenant that is neither its
    sender nor its receiver is forged (:class:`ForgedTenant`), whatever else it says.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    version: ClassVar[int]
    source: ClassVar[str]
    parties: ClassVar[tuple[str, ...]] = ()


class ForgedTenant(ValueError):
    """An event whose tenant may not have produced it: not a party the payload names, or not
    the owner of the aggregate it names. Consumers dead-letter it and apply nothing."""


class Envelope(BaseModel):
    """One event as it travels: identity, provenance, tenancy, time and the typed payload."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int
    source: str
    #: The tenant that owns the aggregate (for cross-tenant events, the acting tenant).
    tenant: uuid.UUID
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    #: The aggregate's id (a case id, a referral id, ...).
    subject: str
    data: dict[str, Any]
    #: W3C traceparent of the span that produced the event.
    trace: str | None = None

    @classmethod
    def wrap(
        cls,
        payload: Contract,
        *,
        tenant: uuid.UUID,
        subject: str | uuid.UUID,
        event_id: uuid.UUID | None = None,
        time: datetime | None = None,
        trace: str | None = None,
    ) -> Envelope:
        """Put a typed payload into an envelope, taking type, version and source from it."""
        return cls(
            id=event_id or uuid.uuid4(),
            type=payload.event_type,
            version=payload.version,
            source=payload.source,
            tenant=tenant,
            time=time or datetime.now(UTC),
            subject=str(subject),
            data=payload.model_dump(mode="json"),
            trace=trace,
        )

    @property
    def subject_name(self) -> str:
        """The NATS subject without namespace: ``tirek.<source>.<type>.v<version>``."""
        return f"tirek.{self.source}.{self.type}.v{self.version}"

    def payload(self) -> Contract:
        """The ``data`` parsed into its registered contract model.

        Raises ``UnknownEventType`` (no contract for this type and version), pydantic's
        ``ValidationError`` (the data fails it) or :class:`ForgedTenant` (the envelope's tenant
        is none of the contract's ``parties``).
        """
        from tirek.events.registry import contract_for

        payload = contract_for(self.type, self.version).model_validate(self.data)
        if payload.parties and self.tenant not in {
            getattr(payload, name) for name in payload.parties
        }:
            raise ForgedTenant(
                f"{self.type} v{self.version}: the envelope's tenant is none of "
                f"{', '.join(payload.parties)}"
            )
        return payload
