""":class:`IdentityProvider` over python-keycloak's ``KeycloakAdmin`` (organizations API).

The same code serves Keycloak and the development issuer, which mirrors the admin REST paths
used here (:mod:`tirek.devidp.admin_api`) and, like Keycloak, gives every organization an id
of its own. The tenant id is the organization's attribute ``tirek_tenant_id``: that is how
the organization is found again, and what the realm's organization mapper puts in tokens.
It authenticates as the ``tirek-admin`` client's service account (client-credentials grant);
in Keycloak that account needs the ``realm-management`` roles ``manage-users``,
``view-users`` and ``manage-realm`` (organizations).
"""

from __future__ import annotations

import uuid
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from admin.identity.provider import (
    IdentityError,
    IdentityUser,
    NewUser,
    Organization,
    OrganizationConflict,
    UnknownUser,
    UserExists,
)
from tirek.auth import TENANT_ATTRIBUTE, Role

#: The realm roles Tirek manages; others a user holds (Keycloak defaults) are left alone.
TIREK_ROLES = frozenset(role.value for role in Role)


def _status(exc: KeycloakError) -> int | None:
    return exc.response_code


def _attributes(organization: dict[str, Any]) -> dict[str, list[str]]:
    attributes = organization.get("attributes")
    return dict(attributes) if isinstance(attributes, dict) else {}


def _tenant_ids(organization: dict[str, Any]) -> list[str]:
    values = _attributes(organization).get(TENANT_ATTRIBUTE)
    return [str(v) for v in values] if isinstance(values, list) else []


class KeycloakIdentityProvider:
    """Users of realm ``realm`` at ``server_url`` (``…/`` before ``realms/``)."""

    def __init__(
        self,
        *,
        server_url: str,
        realm: str,
        client_id: str,
        client_secret: str,
        timeout: int = 10,
    ) -> None:
        self._admin = KeycloakAdmin(
            server_url=server_url,
            realm_name=realm,
            client_id=client_id,
            client_secret_key=client_secret,
            timeout=timeout,
        )
        #: tenant id -> the provider's organization id (they never change once created).
        self._organization_ids: dict[uuid.UUID, str] = {}

    async def _find(self, organization: Organization) -> dict[str, Any] | None:
        """The realm's organization of this tenant (its full representation): the one whose
        ``tirek_tenant_id`` attribute is the tenant id; else one with the tenant's alias and
        no tenant id yet (made by hand in the console), which is adopted by setting the
        attribute. An organization with the alias that belongs to another tenant is a
        conflict, never adopted.

        Keycloak 26 lists organizations in their brief form, without attributes: candidates
        are read again one by one (``GET /organizations/{id}``) before their attributes are
        trusted.
        """
        tenant = str(organization.tenant_id)
        found: list[dict[str, Any]] = await self._admin.a_get_organizations(
            {"q": f"{TENANT_ATTRIBUTE}:{tenant}"}
        )
        for candidate in found:
            full = await self._admin.a_get_organization(str(candidate["id"]))
            if tenant in _tenant_ids(full):
                return full
        # Keycloak searches names and domains, not aliases: scan (once per tenant, cached).
        everything: list[dict[str, Any]] = await self._admin.a_get_organizations()
        by_alias = next((o for o in everything if o.get("alias") == organization.alias), None)
        if by_alias is None:
            return None
        full = await self._admin.a_get_organization(str(by_alias["id"]))
        if _tenant_ids(full):
            raise OrganizationConflict(
                "the organization with this alias belongs to another tenant", status=409
            )
        adopted = {**full, "attributes": {**_attributes(full), TENANT_ATTRIBUTE: [tenant]}}
        await self._admin.a_update_organization(str(full["id"]), adopted)
        return adopted

    async def _organization_id(self, organization: Organization, *, create: bool) -> str | None:
        known = self._organization_ids.get(organization.tenant_id)
        if known:
            return known
        try:
            match = await self._find(organization)
            if match is not None:
                organization_id = str(match["id"])
            elif not create:
                return None
            else:
                created = await self._admin.a_create_organization(
                    {
                        "name": organization.name,
                        "alias": organization.alias,
                        "enabled": True,
                        "attributes": {TENANT_ATTRIBUTE: [str(organization.tenant_id)]},
                    }
                )
                if not created:
                    raise IdentityError("the identity provider did not name the organization")
                organization_id = created
        except KeycloakError as exc:
            raise IdentityError(
                "could not find or create the organization", status=_status(exc)
            ) from None
        self._organization_ids[organization.tenant_id] = organization_id
        return organization_id

    async def ensure_organization(self, organization: Organization) -> str:
        organization_id = await self._organization_id(organization, create=True)
        assert organization_id is not None
        return organization_id

    async def set_enabled(self, organization: Organization, enabled: bool) -> None:
        organization_id = await self._organization_id(organization, create=False)
        if organization_id is None:
            return
        try:
            # Keycloak's PUT replaces the representation: send back what it holds, changed.
            current = await self._admin.a_get_organization(organization_id)
            if bool(current.get("enabled", True)) != enabled:
                await self._admin.a_update_organization(
                    organization_id, {**current, "enabled": enabled}
                )
        except KeycloakError as exc:
            raise IdentityError("could not change the organization", status=_status(exc)) from None

    async def remove(self, organization: Organization) -> int:
        organization_id = await self._organization_id(organization, create=False)
        if organization_id is None:
            return 0
        members: list[dict[str, Any]] = []
        try:
            members = await self._admin.a_get_organization_members(organization_id)
            for member in members:
                await self._admin.a_delete_user(str(member["id"]))
            await self._admin.a_delete_organization(organization_id)
        except KeycloakError as exc:
            if _status(exc) != 404:  # already gone: a retried offboarding
                raise IdentityError(
                    "could not remove the organization", status=_status(exc)
                ) from None
        self._organization_ids.pop(organization.tenant_id, None)
        return len(members)

    async def _user(self, user_id: str) -> IdentityUser:
        user = await self._admin.a_get_user(user_id)
        roles = await self._admin.a_get_realm_roles_of_user(user_id)
        return IdentityUser(
            id=str(user["id"]),
            username=str(user.get("username", "")),
            email=str(user.get("email") or ""),
            first_name=str(user.get("firstName") or ""),
            last_name=str(user.get("lastName") or ""),
            enabled=bool(user.get("enabled", False)),
            roles=tuple(sorted(str(r["name"]) for r in roles if r.get("name") in TIREK_ROLES)),
        )

    async def _member_ids(self, organization: Organization) -> list[str]:
        organization_id = await self._organization_id(organization, create=False)
        if organization_id is None:
            return []
        members = await self._admin.a_get_organization_members(organization_id)
        return [str(member["id"]) for member in members]

    async def _require_member(self, organization: Organization, user_id: str) -> None:
        if user_id not in await self._member_ids(organization):
            raise UnknownUser("no such user in this tenant", status=404)

    async def create_user(self, organization: Organization, user: NewUser) -> IdentityUser:
        organization_id = await self.ensure_organization(organization)
        payload: dict[str, Any] = {
            "username": user.username,
            "email": user.email or None,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "enabled": True,
            "attributes": {"locale": [user.locale]},
        }
        if user.password is not None:
            payload["credentials"] = [
                {"type": "password", "value": user.password, "temporary": False}
            ]
        try:
            user_id = await self._admin.a_create_user(payload)
        except KeycloakError as exc:
            if _status(exc) == 409:
                raise UserExists("the username is taken", status=409) from None
            raise IdentityError("could not create the user", status=_status(exc)) from None
        try:
            await self._admin.a_organization_user_add(user_id, organization_id)
            if user.roles:
                roles = [await self._admin.a_get_realm_role(name) for name in user.roles]
                await self._admin.a_assign_realm_roles(user_id, roles)
            return await self._user(user_id)
        except KeycloakError as exc:
            # A user outside its organization must not linger enabled.
            await self._admin.a_update_user(user_id, {"enabled": False})
            raise IdentityError("could not finish creating the user", status=_status(exc)) from None

    async def list_users(self, organization: Organization) -> list[IdentityUser]:
        try:
            return [await self._user(uid) for uid in await self._member_ids(organization)]
        except KeycloakError as exc:
            raise IdentityError("could not list users", status=_status(exc)) from None

    async def assign_roles(
        self, organization: Organization, user_id: str, roles: tuple[str, ...]
    ) -> IdentityUser:
        try:
            await self._require_member(organization, user_id)
            current = {
                str(r["name"]): r
                for r in await self._admin.a_get_realm_roles_of_user(user_id)
                if r.get("name") in TIREK_ROLES
            }
            removed = [role for name, role in current.items() if name not in roles]
            added = [await self._admin.a_get_realm_role(n) for n in roles if n not in current]
            if removed:
                await self._admin.a_delete_realm_roles_of_user(user_id, removed)
            if added:
                await self._admin.a_assign_realm_roles(user_id, added)
            return await self._user(user_id)
        except KeycloakError as exc:
            raise IdentityError("could not change the roles", status=_status(exc)) from None

    async def deactivate(self, organization: Organization, user_id: str) -> IdentityUser:
        try:
            await self._require_member(organization, user_id)
            await self._admin.a_update_user(user_id, {"enabled": False})
            return await self._user(user_id)
        except KeycloakError as exc:
            raise IdentityError("could not deactivate the user", status=_status(exc)) from None

    async def close(self) -> None:
        await self._admin.connection.aclose()
