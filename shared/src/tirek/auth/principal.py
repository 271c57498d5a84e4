"""Who is calling: the realm roles Tirek knows and the principal a verified token yields."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Realm roles of the consortium's identity provider (Keycloak realm ``tirek``)."""

    CASEWORKER = "caseworker"
    CASE_MANAGER = "case_manager"
    TENANT_ADMIN = "tenant_admin"
    COORDINATOR = "coordinator"
    PLATFORM_ADMIN = "platform_admin"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, built only from a verified access token.

    ``tenant_id`` is the NGO (Keycloak organization) the caller acts for; every tenant-scoped
    query uses it. ``language`` is the caller's preferred UI language (``locale`` claim).
    """

    user_id: str
    username: str
    tenant_id: uuid.UUID
    roles: frozenset[Role]
    language: str = "ru"

    def has_any(self, *roles: Role) -> bool:
        """True when the principal holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)
