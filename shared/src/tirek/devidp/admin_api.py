"""The subset of Keycloak's admin REST API that Tirek's ``admin`` service uses, over the
development issuer's own users, so python-keycloak's ``KeycloakAdmin`` code runs unchanged
against both.

Paths under ``/admin/realms/tirek``: ``users`` (create, get, update ``enabled``),
``users/{id}/role-mappings/realm`` (list, add, remove), ``roles/{name}``, ``organizations``
(list, create) and ``organizations/{id}/members`` (list, add). Every call needs a bearer token
of the ``tirek-admin`` client's service account (client-credentials grant), as Keycloak would
require ``manage-users`` of that service account.

Development deviations, on purpose: an organization created with an ``id`` keeps it (the
tenant's id), and a user belongs to one organization at most (its tenant).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from jwcrypto.jwk import JWK
from jwcrypto.jwt import JWT
from starlette.concurrency import run_in_threadpool

from tirek.demo import TENANTS
from tirek.devidp.files import create_private_file, replace_private_file
from tirek.devidp.keys import SIGNING_ALGORITHM
from tirek.devidp.users import DevUser, UnknownUser, UserStore

#: The client whose service account may manage users (Keycloak: realm-management roles).
ADMIN_CLIENT = "tirek-admin"
#: Realm roles the development realm knows (Keycloak's realm export defines the same five).
REALM_ROLES = ("caseworker", "case_manager", "tenant_admin", "coordinator", "platform_admin")
ORGANIZATIONS_FILE = "organizations.json"
#: Tenant of a user created but not yet added to an organization.
NO_TENANT = uuid.UUID(int=0)
_ROLE_NS = uuid.UUID("4b0d7f0e-93a4-4f4e-8a43-0b0f6e1a2c55")


def _role(name: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid5(_ROLE_NS, name)), "name": name, "composite": False}


def _error(status: int, message: str) -> JSONResponse:
    # Keycloak's admin API answers errors as {"errorMessage": ...}.
    return JSONResponse({"errorMessage": message}, status_code=status)


class Organizations:
    """Organizations of the development realm: the demo tenants plus those created here."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / ORGANIZATIONS_FILE
        if not self.path.exists():
            demo = [
                {"id": str(t.id), "name": t.name.get("en", t.code), "alias": t.alias}
                for t in TENANTS
            ]
            create_private_file(self.path, json.dumps({"organizations": demo}, indent=2))

    def all(self) -> list[dict[str, Any]]:
        document = json.loads(self.path.read_text(encoding="utf-8"))
        return [dict(org, enabled=True) for org in document["organizations"]]

    def get(self, organization_id: str) -> dict[str, Any] | None:
        return next((org for org in self.all() if org["id"] == organization_id), None)

    def add(self, name: str, alias: str, organization_id: str) -> None:
        organizations = [{key: org[key] for key in ("id", "name", "alias")} for org in self.all()]
        organizations.append({"id": organization_id, "name": name, "alias": alias})
        replace_private_file(self.path, json.dumps({"organizations": organizations}, indent=2))


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
            ("/users/{user_id}/role-mappings/realm", self.user_roles, "GET"),
            ("/users/{user_id}/role-mappings/realm", self.add_roles, "POST"),
            ("/users/{user_id}/role-mappings/realm", self.remove_roles, "DELETE"),
            ("/roles/{role_name}", self.get_role, "GET"),
            ("/organizations", self.list_organizations, "GET"),
            ("/organizations", self.create_organization, "POST"),
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
            tenant_id=NO_TENANT,
            tenant_alias="",
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
        search = request.query_params.get("search")
        organizations = [
            org
            for org in self.organizations.all()
            if search is None or search in (org["alias"], org["name"])
        ]
        return JSONResponse(_page(organizations, request))

    async def create_organization(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        body = await self._body(request)
        if not isinstance(body, dict) or not body.get("name"):
            return _error(400, "name is required")
        alias = str(body.get("alias") or body["name"])
        existing = self.organizations.all()
        if any(org["alias"] == alias or org["name"] == body["name"] for org in existing):
            return _error(409, "A organization with the same name or alias already exists")
        organization_id = str(body.get("id") or uuid.uuid4())
        try:
            uuid.UUID(organization_id)
        except ValueError:
            return _error(400, "id must be a UUID")
        if any(org["id"] == organization_id for org in existing):
            return _error(409, "A organization with the same id already exists")
        await run_in_threadpool(self.organizations.add, str(body["name"]), alias, organization_id)
        location = f"{str(request.url).rstrip('/')}/{organization_id}"
        return Response(status_code=201, headers={"Location": location})

    async def members(self, request: Request, organization_id: str) -> Response:
        if not self._authorized(request):
            return _error(401, "HTTP 401 Unauthorized")
        if self.organizations.get(organization_id) is None:
            return _error(404, "Organization not found")
        members = [user for user in self.users.list() if str(user.tenant_id) == organization_id]
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
        if user.tenant_id not in (NO_TENANT, uuid.UUID(organization_id)):
            return _error(409, "User is already a member of another organization")
        await run_in_threadpool(
            self.users.update,
            user.username,
            tenant_id=uuid.UUID(organization_id),
            tenant_alias=str(organization["alias"]),
        )
        return Response(status_code=201)
