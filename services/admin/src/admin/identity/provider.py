"""The identity-provider interface admin provisions users through (Keycloak in production,
the development issuer locally: both behind :class:`IdentityProvider`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


class IdentityError(Exception):
    """The identity provider refused or failed an operation (``status``: its HTTP status)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UserExists(IdentityError):
    """The username is taken in the realm."""


class UnknownUser(IdentityError):
    """No such user in this tenant's organization."""


class OrganizationConflict(IdentityError):
    """The realm's organization with this tenant's alias belongs to another tenant."""


@dataclass(frozen=True)
class Organization:
    """What the identity provider needs of a tenant to hold its users.

    The identity provider gives the organization an id of its own (Keycloak always does);
    ``tenant_id`` is stored on it as the attribute ``tirek_tenant_id``, which the realm's
    organization mapper puts in every member's token (:func:`tirek.auth.tenant_from_claims`).
    """

    tenant_id: uuid.UUID
    alias: str
    name: str


@dataclass(frozen=True)
class NewUser:
    username: str
    email: str
    first_name: str
    last_name: str
    roles: tuple[str, ...]
    locale: str = "ru"
    #: An initial password (not temporary); ``None`` invites the user to set one.
    password: str | None = None


@dataclass(frozen=True)
class IdentityUser:
    id: str
    username: str
    email: str
    first_name: str
    last_name: str
    enabled: bool
    roles: tuple[str, ...]


class IdentityProvider(Protocol):
    """User administration of one realm, per tenant (organization)."""

    async def ensure_organization(self, organization: Organization) -> str:
        """The organization's id (the provider's own), created with the tenant id as its
        ``tirek_tenant_id`` attribute when the realm has none for this tenant."""
        ...

    async def set_enabled(self, organization: Organization, enabled: bool) -> None:
        """Disable (suspension) or enable (reactivation) the tenant's organization: a
        disabled organization is left out of its members' new tokens, which every service
        then refuses. Nothing to do for a tenant without an organization yet."""
        ...

    async def remove(self, organization: Organization) -> int:
        """Delete the organization and every member (offboarding); the number of users
        deleted. Nothing to do for a tenant without an organization."""
        ...

    async def create_user(self, organization: Organization, user: NewUser) -> IdentityUser:
        """Create an enabled user in the organization with ``user.roles``."""
        ...

    async def list_users(self, organization: Organization) -> list[IdentityUser]:
        """Every member of the organization, with realm roles."""
        ...

    async def assign_roles(
        self, organization: Organization, user_id: str, roles: tuple[str, ...]
    ) -> IdentityUser:
        """Make ``roles`` exactly the user's Tirek realm roles."""
        ...

    async def deactivate(self, organization: Organization, user_id: str) -> IdentityUser:
        """Disable the user: no new tokens (issued ones run out)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
