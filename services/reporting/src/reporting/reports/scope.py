"""Who sees what: an NGO's staff see their NGO in full; coordinators see all NGOs, suppressed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from tirek.auth import Principal, Role

#: Roles that read their own NGO's figures in full.
NGO_ROLES = (Role.CASEWORKER, Role.CASE_MANAGER, Role.TENANT_ADMIN)
#: Roles that read every NGO's figures, with small cells suppressed.
CONSORTIUM_ROLES = (Role.COORDINATOR, Role.PLATFORM_ADMIN)


@dataclass(frozen=True)
class Scope:
    """``tenant_id`` set: one NGO, in full. ``None``: every NGO, small cells suppressed."""

    tenant_id: uuid.UUID | None
    threshold: int

    @property
    def suppressed(self) -> bool:
        return self.tenant_id is None

    @classmethod
    def of(cls, principal: Principal, threshold: int) -> Scope:
        """The scope a principal reads in (callers have checked it holds a report role)."""
        if principal.has_any(*CONSORTIUM_ROLES):
            return cls(None, threshold)
        return cls(principal.tenant_id, threshold)


@dataclass(frozen=True)
class Filters:
    """What every report is filterable by. Dates are inclusive; ``None`` means unbounded."""

    date_from: date | None = None
    date_to: date | None = None
    country: str | None = None
    ngo: uuid.UUID | None = None
    project: str | None = None
