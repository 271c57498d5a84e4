""":class:`IdentityProvider` over python-keycloak's ``KeycloakAdmin`` (organizations API).

The same code serves Keycloak and the development issuer, which mirrors the admin REST paths
used here (:mod:`tirek.devidp.admin_api`). It authenticates as the ``tirek-admin`` client's
service account (client-credentials grant); in Keycloak that account needs the
``realm-management`` roles ``manage-users``, ``view-users`` and ``manage-realm``
(organizations).
"""

from __future__ import annotations

from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from admin.identity.provider import (
    IdentityError,
    IdentityUser,
    NewUser,
    Organization,
    UnknownUser,
    UserExists,
)
from tirek.auth import Role

#: The realm roles Tirek manages; others a user holds (Keycloak defaults) are left alone.
TIREK_ROLES = frozenset(role.value for role in Role)


def _status(exc: KeycloakError) -> int | None:
    return exc.response_code


class KeycloakIdentityProvider:
    """Users of realm ``realm`` at ``server_url`` (``…/`` before ``realms/``)."""

    def __init__(
        self,
        *,
        server_url: str,
        realm: str,
        client_id: str,
        client_secret: str,
        preset_organization_ids: bool = False,
        timeout: int = 10,
    ) -> None:
        self._admin = KeycloakAdmin(
            server_url=server_url,
            realm_name=realm,
            client_id=client_id,
            client_secret_key=client_secret,
            timeout=timeout,
        )
        # The development issuer keeps an organization id given at creation (the tenant id);
        # Keycloak assigns its own, so there the organization is found by its alias.
        self._preset_ids = preset_organization_ids
        self._organization_ids: dict[str, str] = {}

    async def ensure_organization(self, organization: Organization) -> str:
        known = self._organization_ids.get(organization.alias)
        if known:
            return known
        try:
            found = await self._admin.a_get_organizations({"search": organization.alias})
            match = next((o for o in found if o.get("alias") == organization.alias), None)
            if match is None:
                payload: dict[str, Any] = {
                    "name": organization.name,
                    "alias": organization.alias,
                    "enabled": True,
                    "attributes": {"tirek_tenant_id": [str(organization.tenant_id)]},
                }
                if self._preset_ids:
                    payload["id"] = str(organization.tenant_id)
                organization_id = await self._admin.a_create_organization(payload)
                if not organization_id:
                    raise IdentityError("the identity provider did not name the organization")
            else:
                organization_id = str(match["id"])
        except KeycloakError as exc:
            raise IdentityError(
                "could not find or create the organization", status=_status(exc)
            ) from None
        self._organization_ids[organization.alias] = organization_id
        return organization_id

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
        organization_id = await self.ensure_organization(organization)
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
