from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from notification.models import Base


class Rule(Base):
    """Event type -> who (a party of the event, and a role) -> which template.

    Rows are data, seeded by migration (0001); a tenant turns a rule off for its own people
    with a :class:`RuleSetting`. ``party`` is one of :data:`notification.rules.service.PARTIES`.
    """

    __tablename__ = "rules"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    party: Mapped[str] = mapped_column(String(32))
    role: Mapped[str | None] = mapped_column(String(32))
    template: Mapped[str] = mapped_column(String(64))
    #: Fire only when this field is in the event's ``changed`` list (case.updated).
    when_changed: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(200), default="")


class RuleSetting(Base):
    """A tenant's choice for one rule (no row: the rule is on)."""

    __tablename__ = "rule_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey("rules.id"), primary_key=True)
    enabled: Mapped[bool]
