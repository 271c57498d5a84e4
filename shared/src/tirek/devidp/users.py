"""The development issuer's users: a JSON file in the data directory, seeded with the demo.

:class:`UserStore` is the one interface the issuer (and a later admin adapter) uses to read
and change users. Passwords are stored as scrypt hashes, never in clear.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tirek.demo import DEMO_PASSWORD, TENANTS, USERS, tenant_by_code
from tirek.devidp.files import create_private_file, replace_private_file

USERS_FILE = "users.json"

_ORGANIZATION_NS = uuid.UUID("c2a3f0e4-5b7d-4e51-9c1a-7e0f3d2b6a48")

# Moderate scrypt cost: a development store, but hashes that are not trivially reversed.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class DevUser:
    """A person who can log in, with what the token says about them."""

    id: str
    username: str
    #: The organization (Keycloak: its own id, not the tenant id) the user is a member of;
    #: ``None`` until added to one. The tenant id comes from the organization's attribute.
    organization_id: uuid.UUID | None
    roles: tuple[str, ...]
    locale: str = "ru"
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    enabled: bool = True


_UserList = list[DevUser]


class UnknownUser(KeyError):
    """No user with that username."""


class UserStore:
    """Users of the development realm, persisted to ``path`` (mode 0600) on every change.

    Usernames are case-insensitive, as in Keycloak (stored lower-case). Thread-safe.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._users: dict[str, DevUser] = {}
        self._hashes: dict[str, str] = {}
        self._load()

    @classmethod
    def open(cls, data_dir: Path) -> UserStore:
        """The store in ``data_dir``; created with the demo consortium's users on first use."""
        path = data_dir / USERS_FILE
        if not path.exists():
            create_private_file(path, json.dumps(_demo_document(), indent=2))
        return cls(path)

    def get(self, username: str) -> DevUser | None:
        """The user called ``username``, enabled or not; None when there is none."""
        with self._lock:
            return self._users.get(username.lower())

    def authenticate(self, username: str, password: str) -> DevUser | None:
        """The user when the password is right and the account is enabled; otherwise None."""
        with self._lock:
            user = self._users.get(username.lower())
            stored = self._hashes.get(username.lower())
        if user is None or stored is None:
            _hash_password(password)  # same work whether or not the user exists
            return None
        if not _check_password(password, stored) or not user.enabled:
            return None
        return user

    def list(self) -> _UserList:
        """Every user, ordered by username."""
        with self._lock:
            return [self._users[name] for name in sorted(self._users)]

    def add(self, user: DevUser, password: str) -> DevUser:
        """Add a user; ``ValueError`` when the username is taken."""
        user = dataclasses.replace(user, username=user.username.lower())
        with self._lock:
            if user.username in self._users:
                raise ValueError(f"username {user.username!r} is taken")
            self._users[user.username] = user
            self._hashes[user.username] = _hash_password(password)
            self._save()
        return user

    def update(
        self,
        username: str,
        *,
        password: str | None = None,
        roles: tuple[str, ...] | None = None,
        locale: str | None = None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        enabled: bool | None = None,
        organization_id: uuid.UUID | None = None,
    ) -> DevUser:
        """Change the given fields of a user (None leaves a field as it is)."""
        changes: dict[str, Any] = {
            name: value
            for name, value in {
                "organization_id": organization_id,
                "roles": roles,
                "locale": locale,
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "enabled": enabled,
            }.items()
            if value is not None
        }
        key = username.lower()
        with self._lock:
            current = self._users.get(key)
            if current is None:
                raise UnknownUser(username)
            updated = dataclasses.replace(current, **changes)
            self._users[key] = updated
            if password is not None:
                self._hashes[key] = _hash_password(password)
            self._save()
        return updated

    def leave_organization(self, username: str) -> DevUser:
        """Take the user out of its organization (its tokens then name no tenant)."""
        key = username.lower()
        with self._lock:
            current = self._users.get(key)
            if current is None:
                raise UnknownUser(username)
            updated = dataclasses.replace(current, organization_id=None)
            self._users[key] = updated
            self._save()
        return updated

    def remove(self, username: str) -> None:
        """Delete a user; :class:`UnknownUser` when there is none."""
        key = username.lower()
        with self._lock:
            if key not in self._users:
                raise UnknownUser(username)
            del self._users[key]
            del self._hashes[key]
            self._save()

    def deactivate(self, username: str) -> DevUser:
        """Disable a user: they can no longer obtain tokens (existing ones run out)."""
        return self.update(username, enabled=False)

    def _load(self) -> None:
        document = json.loads(self.path.read_text(encoding="utf-8"))
        for entry in document["users"]:
            user = _user_from_json(entry)
            self._users[user.username] = user
            self._hashes[user.username] = str(entry["password_hash"])

    def _save(self) -> None:
        entries = [
            {**_user_to_json(user), "password_hash": self._hashes[name]}
            for name, user in sorted(self._users.items())
        ]
        replace_private_file(self.path, json.dumps({"users": entries}, indent=2))


def _demo_document() -> dict[str, Any]:
    # Every demo user has the one published demo password, so one salted hash serves them all
    # (and seeding stays quick); a password set later gets its own salt.
    demo_hash = _hash_password(DEMO_PASSWORD)
    entries = []
    for demo in USERS:
        tenant = tenant_by_code(demo.tenant_code)
        user = DevUser(
            id=str(demo.id),
            username=demo.username.lower(),
            organization_id=demo_organization_id(tenant.id),
            roles=demo.roles,
            locale=demo.language,
            email=demo.email,
            first_name=demo.first_name,
            last_name=demo.last_name,
        )
        entries.append({**_user_to_json(user), "password_hash": demo_hash})
    return {"users": entries}


def demo_organization_id(tenant_id: uuid.UUID) -> uuid.UUID:
    """The id of a demo tenant's organization: like Keycloak's, never the tenant id itself,
    so that everything reading a token must take the tenant from the organization's
    ``tirek_tenant_id`` attribute."""
    return uuid.uuid5(_ORGANIZATION_NS, str(tenant_id))


def coordination_organization_id() -> uuid.UUID:
    """The organization of the consortium's own tenant (service accounts act for it)."""
    for tenant in TENANTS:
        if tenant.kind == "coordination":
            return demo_organization_id(tenant.id)
    raise LookupError("the demo consortium has no coordination tenant")


def _user_to_json(user: DevUser) -> dict[str, Any]:
    data = dataclasses.asdict(user)
    data["organization_id"] = str(user.organization_id) if user.organization_id else None
    data["roles"] = list(user.roles)
    return data


def _user_from_json(entry: dict[str, Any]) -> DevUser:
    return DevUser(
        id=str(entry["id"]),
        username=str(entry["username"]).lower(),
        organization_id=_organization_of(entry),
        roles=tuple(str(role) for role in entry["roles"]),
        locale=str(entry.get("locale", "ru")),
        email=str(entry.get("email", "")),
        first_name=str(entry.get("first_name", "")),
        last_name=str(entry.get("last_name", "")),
        enabled=bool(entry.get("enabled", True)),
    )


def _organization_of(entry: dict[str, Any]) -> uuid.UUID | None:
    # Data directories written before organizations had ids of their own kept the
    # organization under "tenant_id" (then equal to the tenant id; organizations.py knows).
    value = entry.get("organization_id", entry.get("tenant_id"))
    if not value or uuid.UUID(str(value)).int == 0:
        return None
    return uuid.UUID(str(value))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)
