"""The subset of Keycloak's admin REST API that Tirek's ``admin`` service uses, over the
development issuer's own users, so python-keycloak's ``KeycloakAdmin`` code runs unchanged
against both.

Paths under ``/admin/realms/tirek``: ``users`` (create, get, update ``enabled``),
``users/{id}/role-mappings/realm`` (list, add, remove), ``roles/{name}``, ``organizations``
(list with ``search``/``q``/``exact``, create), ``organizations/{id}`` (get, update) and
``organizations/{id}/members`` (list, add). Every call needs a bearer token of the
``tirek-admin`` client's service account (client-credentials grant), as Keycloak would
require ``manage-users`` / ``manage-realm`` of that service account.

As in Keycloak, an organization gets an id of its own (an ``id`` in the request is
ignored); the tenant id travels as its ``tirek_tenant_id`` attribute. Development deviation,
on purpose: a user belongs to one organization at most (its tenant).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from jwcrypto.jwk import JWK
from jwcrypto.jwt import JWT
from starlette.concurrency import run_in_threadpool

from tirek.devidp.keys import SIGNING_ALGORITHM
from tirek.devidp.organizations import Organizations
from tirek.devidp.users import DevUser, UnknownUser, UserStore

#: The client whose service account may manage users (Keycloak: realm-management roles).
ADMIN_CLIENT = "tirek-admin"
#: Realm roles the development realm knows (Keycloak's realm export defines the same five).
REALM_ROLES = ("caseworker", "case_manager", "tenant_admin", "coordinator", "platform_admin")
_ROLE_NS = uuid.UUID("4b0d7f0e-93a4-4f4e-8a43-0b0f6e1a2c55")


def _role(name: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid5(_ROLE_NS, name)), "name": name, "composite": False}


def _error(status: int, message: str) -> JSONResponse:
    # Keycloak's admin API answers errors as {"errorMessage": ...}.
    return JSONResponse({"errorMessage": message}, status_code=status)


def _representation(user: DevUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "enabled": user.enabled,
        "emailVerified": bool(user.email),
        "attributes": {"locale": [user.locale]},
    }


def _page(items: list[Any], request: Request) -> list[Any]:
    try:
        first = int(request.query_params.get("first", 0))
        size = int(request.query_params.get("max", 100))
    except ValueError:
        return items
    return items[max(first, 0) : max(first, 0) + max(size, 0)]


class AdminApi:
    """Routes of the admin API; ``issuer`` gives the expected ``iss`` for a request."""

    def __init__(
        self,
        *,
        key: JWK,
        users: UserStore,
        organizations: Organizations,
        issuer: Callable[[Request], str],
    ) -> None:
        self.key = key
        self.users = users
        self.organizations = organizations
        self.issuer = issuer

    def router(self, realm: str) -> APIRouter:
        router = APIRouter(prefix=f"/admin/realms/{realm}", include_in_schema=False)
        routes: list[tuple[str, Callable[..., Any], str]] = [
            ("/users", self.list_users, "GET"),
            ("/users", self.create_user, "POST"),
            ("/users/{user_id}", self.get_user, "GET"),
            ("/users/{user_id}", self.update_user, "PUT"),
            ("/users/{user_id}", self.delete_user, "DELETE"),
            ("/users/{user_id}/role-mappings/realm", self.user_roles, "GET"),
            ("/users/{user_id}/role-mappings/realm", self.add_roles, "POST"),
            ("/users/{user_id}/role-mappings/realm", self.remove_roles, "DELETE"),
            ("/roles/{role_name}", self.get_role, "GET"),
            ("/organizations", self.list_organizations, "GET"),
            ("/organizations", self.create_organization, "POST"),
            ("/organizations/{organization_id}", self.get_organization, "GET"),
            ("/organizations/{organization_id}", self.update_organization, "PUT"),
            ("/organizations/{organization_id}", self.delete_organization, "DELETE"),
            ("/organizations/{organization_id}/members", self.members, "GET"),
            ("/organizations/{organization_id}/members", self.add_member, "POST"),
        ]
        for path, endpoint, method in routes:
            router.add_api_route(path, endpoint, methods=[method])
        return router

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        try:
            verified = JWT(
                jwt=token.strip(),
                key=self.key,
                algs=[SIGNING_ALGORITHM],
                check_claims={"iss": self.issuer(request), "exp": None},
                expected_type="JWS",
            )
            claims = json.loads(verified.claims)
        except Exception:  # any failure means the same to the caller
            return False
        return (
            isinstance(claims, dict)
            and claims.get("azp") == ADMIN_CLIENT
            and (claims.get("client_id") == ADMIN_CLIENT)
        )

    def _user_by_id(self, user_id: str) -> DevUser | None:
        return next((user for user in self.users.list() if user.id == user_id), None)

    async def _body(self, request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError:
            return None

    async def list_users(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        username = request.query_params.get("username")
        users = [
            user
            for user in self.users.list()
            if username is None or user.username == username.lower()
        ]
        return JSONResponse([_representation(user) for user in _page(users, request)])

    async def create_user(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        body = await self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("username"), str):
            return _error(400, "username is required")
        password = next(
            (
                str(credential.get("value", ""))
                for credential in body.get("credentials") or []
                if isinstance(credential, dict) and credential.get("type") == "password"
            ),
            # No credentials: an invited user who cannot log in until a password is set.
            secrets.token_urlsafe(24),
        )
        user = DevUser(
            id=str(uuid.uuid4()),
            username=body["username"],
            organization_id=None,
            roles=(),
            locale=str((body.get("attributes") or {}).get("locale", ["ru"])[0]),
            email=str(body.get("email") or ""),
            first_name=str(body.get("firstName") or ""),
            last_name=str(body.get("lastName") or ""),
            enabled=bool(body.get("enabled", True)),
        )
        try:
            await run_in_threadpool(self.users.add, user, password)
        except ValueError:
            return _error(409, "User exists with same username")
        location = f"{str(request.url).rstrip('/')}/{user.id}"
        return Response(status_code=201, headers={"Location": location})

    async def get_user(self, request: Request, user_id: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        user = self._user_by_id(user_id)
        if user is None:
            return _error(404, "User not found")
        return JSONResponse(_representation(user))

    async def update_user(self, request: Request, user_id: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        user = self._user_by_id(user_id)
        body = await self._body(request)
        if user is None:
            return _error(404, "User not found")
        if not isinstance(body, dict):
            return _error(400, "a user representation is required")
        await run_in_threadpool(
            self.users.update,
            user.username,
            enabled=bool(body["enabled"]) if "enabled" in body else None,
            email=body.get("email"),
            first_name=body.get("firstName"),
            last_name=body.get("lastName"),
        )
        return Response(status_code=204)

    async def delete_user(self, request: Request, user_id: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        user = self._user_by_id(user_id)
        if user is None:
            return _error(404, "User not found")
        try:
            await run_in_threadpool(self.users.remove, user.username)
        except UnknownUser:
            return _error(404, "User not found")
        return Response(status_code=204)

    async def user_roles(self, request: Request, user_id: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        user = self._user_by_id(user_id)
        if user is None:
            return _error(404, "User not found")
        return JSONResponse([_role(name) for name in user.roles])

    async def _change_roles(self, request: Request, user_id: str, *, add: bool) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        user = self._user_by_id(user_id)
        body = await self._body(request)
        if user is None:
            return _error(404, "User not found")
        if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
            return _error(400, "a list of roles is required")
        names = [str(role.get("name")) for role in body]
        if any(name not in REALM_ROLES for name in names):
            return _error(404, "Role not found")
        roles = (
            tuple(dict.fromkeys([*user.roles, *names]))
            if add
            else tuple(role for role in user.roles if role not in names)
        )
        try:
            await run_in_threadpool(self.users.update, user.username, roles=roles)
        except UnknownUser:
            return _error(404, "User not found")
        return Response(status_code=204)

    async def add_roles(self, request: Request, user_id: str) -> Response:
        return await self._change_roles(request, user_id, add=True)

    async def remove_roles(self, request: Request, user_id: str) -> Response:
        return await self._change_roles(request, user_id, add=False)

    async def get_role(self, request: Request, role_name: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        if role_name not in REALM_ROLES:
            return _error(404, "Could not find role")
        return JSONResponse(_role(role_name))

    async def list_organizations(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        # q="key1:value1 key2:value2" searches attributes (Keycloak 26's SearchQueryUtils).
        query = request.query_params.get("q") or ""
        attributes = dict(
            part.split(":", 1) for part in query.split() if ":" in part and part.split(":", 1)[0]
        )
        organizations = self.organizations.search(
            search=request.query_params.get("search"),
            attributes=attributes,
            exact=request.query_params.get("exact", "").lower() == "true",
        )
        if request.query_params.get("briefRepresentation", "true").lower() != "false":
            # Keycloak 26 lists organizations without their attributes unless asked: a client
            # must read one (GET /organizations/{id}) to see them.
            organizations = [
                {k: v for k, v in org.items() if k != "attributes"} for org in organizations
            ]
        return JSONResponse(_page(organizations, request))

    async def create_organization(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        body = await self._body(request)
        if not isinstance(body, dict) or not body.get("name"):
            return _error(400, "name is required")
        attributes = _attributes(body.get("attributes"))
        if attributes is None:
            return _error(400, "attributes must map names to lists of strings")
        try:
            organization_id = await run_in_threadpool(
                lambda: self.organizations.add(
                    name=str(body["name"]),
                    alias=str(body.get("alias") or body["name"]),
                    enabled=bool(body.get("enabled", True)),
                    attributes=attributes,
                )
            )
        except ValueError:
            return _error(409, "A organization with the same name or alias already exists")
        location = f"{str(request.url).rstrip('/')}/{organization_id}"
        return Response(status_code=201, headers={"Location": location})

    async def get_organization(self, request: Request, organization_id: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        organization = self.organizations.get(organization_id)
        if organization is None:
            return _error(404, "Organization not found.")
        return JSONResponse(organization)

    async def update_organization(self, request: Request, organization_id: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        body = await self._body(request)
        if not isinstance(body, dict):
            return _error(400, "an organization representation is required")
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = str(body["name"])
        if "enabled" in body:
            changes["enabled"] = bool(body["enabled"])
        if "attributes" in body:
            attributes = _attributes(body["attributes"])
            if attributes is None:
                return _error(400, "attributes must map names to lists of strings")
            changes["attributes"] = attributes
        if not await run_in_threadpool(self.organizations.update, organization_id, changes):
            return _error(404, "Organization not found.")
        return Response(status_code=204)

    async def delete_organization(self, request: Request, organization_id: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        if not await run_in_threadpool(self.organizations.remove, organization_id):
            return _error(404, "Organization not found.")
        # As in Keycloak, members added through the admin API stay in the realm (outside any
        # organization): the caller deletes them first when it wants them gone.
        for user in self.users.list():
            if str(user.organization_id) == organization_id:
                await run_in_threadpool(self.users.leave_organization, user.username)
        return Response(status_code=204)

    async def members(self, request: Request, organization_id: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        if self.organizations.get(organization_id) is None:
            return _error(404, "Organization not found")
        members = [
            user for user in self.users.list() if str(user.organization_id) == organization_id
        ]
        return JSONResponse([_representation(user) for user in _page(members, request)])

    async def add_member(self, request: Request, organization_id: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        organization = self.organizations.get(organization_id)
        if organization is None:
            return _error(404, "Organization not found")
        user_id = (await request.body()).decode("utf-8", "replace").strip().strip('"')
        user = self._user_by_id(user_id)
        if user is None:
            return _error(404, "User not found")
        if user.organization_id not in (None, uuid.UUID(organization_id)):
            return _error(409, "User is already a member of another organization")
        await run_in_threadpool(
            self.users.update, user.username, organization_id=uuid.UUID(organization_id)
        )
        return Response(status_code=201)


def _attributes(value: object) -> dict[str, list[str]] | None:
    """Keycloak's attribute map (name -> list of strings); ``None`` when malformed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        return None
    result: dict[str, list[str]] = {}
    for key, values in value.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return None
        result[str(key)] = list(values)
    return result
