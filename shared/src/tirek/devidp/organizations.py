"""Organizations of the development realm: one per tenant, as Keycloak 26 keeps them.

Like Keycloak, the issuer gives each organization an id of its own; Tirek's tenant id is the
organization's attribute ``tirek_tenant_id`` (:data:`tirek.auth.TENANT_ATTRIBUTE`), and tokens
carry it the way the realm's organization membership mapper does
(``{alias: {"id": <organization id>, "tirek_tenant_id": [<tenant id>]}}``). A disabled
organization is left out of its members' tokens, as Keycloak's mapper leaves it out.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tirek.auth.tokens import TENANT_ATTRIBUTE
from tirek.demo import TENANTS
from tirek.devidp.files import create_private_file, replace_private_file
from tirek.devidp.users import demo_organization_id

ORGANIZATIONS_FILE = "organizations.json"

Attributes = dict[str, list[str]]


class Organizations:
    """The realm's organizations, persisted to ``organizations.json`` (mode 0600); seeded
    with the demo consortium, each organization with its tenant id as attribute. Thread-safe.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / ORGANIZATIONS_FILE
        self._lock = threading.Lock()
        if not self.path.exists():
            demo = [
                {
                    "id": str(demo_organization_id(t.id)),
                    "name": t.name.get("en", t.code),
                    "alias": t.alias,
                    "enabled": True,
                    "attributes": {TENANT_ATTRIBUTE: [str(t.id)]},
                }
                for t in TENANTS
            ]
            create_private_file(self.path, json.dumps({"organizations": demo}, indent=2))

    def all(self) -> list[dict[str, Any]]:
        """Every organization as Keycloak's admin API represents it."""
        with self._lock:
            return [_representation(org) for org in self._read()]

    def get(self, organization_id: str) -> dict[str, Any] | None:
        return next((org for org in self.all() if org["id"] == organization_id), None)

    def search(
        self, *, search: str | None, attributes: Mapping[str, str], exact: bool
    ) -> list[dict[str, Any]]:
        """Keycloak's ``GET /organizations``: ``q`` (attributes, all must match) wins over
        ``search`` (name or domain; ``exact`` or a case-insensitive substring)."""
        found = self.all()
        if attributes:
            return [
                org
                for org in found
                if all(value in org["attributes"].get(key, []) for key, value in attributes.items())
            ]
        if search is None:
            return found
        needle = search if exact else search.lower()
        return [
            org
            for org in found
            if (org["name"] == needle if exact else needle in org["name"].lower())
        ]

    def add(self, *, name: str, alias: str, enabled: bool, attributes: Attributes) -> str:
        """Create an organization with a fresh id; ``ValueError`` when name or alias is taken."""
        with self._lock:
            stored = self._read()
            if any(org["alias"] == alias or org["name"] == name for org in stored):
                raise ValueError("an organization with the same name or alias exists")
            organization_id = str(uuid.uuid4())
            stored.append(
                {
                    "id": organization_id,
                    "name": name,
                    "alias": alias,
                    "enabled": enabled,
                    "attributes": attributes,
                }
            )
            self._write(stored)
        return organization_id

    def update(self, organization_id: str, changes: Mapping[str, Any]) -> bool:
        """Replace name, enabled and attributes (as Keycloak's PUT does); False when unknown.
        The alias never changes once set, as in Keycloak."""
        with self._lock:
            stored = self._read()
            for org in stored:
                if org["id"] == organization_id:
                    for key in ("name", "enabled", "attributes"):
                        if key in changes:
                            org[key] = changes[key]
                    self._write(stored)
                    return True
        return False

    def remove(self, organization_id: str) -> bool:
        """Delete an organization; False when unknown."""
        with self._lock:
            stored = self._read()
            kept = [org for org in stored if org["id"] != organization_id]
            if len(kept) == len(stored):
                return False
            self._write(kept)
        return True

    def tenant_claim(self, organization_id: uuid.UUID | None) -> dict[str, Any] | None:
        """The ``organization`` claim of a member: ``None`` for no or a disabled organization."""
        org = self.get(str(organization_id)) if organization_id else None
        if org is None or not org["enabled"]:
            return None
        return {org["alias"]: {"id": org["id"], **org["attributes"]}}

    def _read(self) -> list[dict[str, Any]]:
        document = json.loads(self.path.read_text(encoding="utf-8"))
        organizations: list[dict[str, Any]] = document["organizations"]
        return organizations

    def _write(self, organizations: list[dict[str, Any]]) -> None:
        replace_private_file(self.path, json.dumps({"organizations": organizations}, indent=2))


def _representation(org: Mapping[str, Any]) -> dict[str, Any]:
    attributes = org.get("attributes")
    if not isinstance(attributes, dict):
        # A data directory from before organizations had ids of their own: the id was the
        # tenant id.
        attributes = {TENANT_ATTRIBUTE: [str(org["id"])]}
    return {
        "id": str(org["id"]),
        "name": str(org["name"]),
        "alias": str(org["alias"]),
        "enabled": bool(org.get("enabled", True)),
        "description": "",
        "attributes": {str(k): [str(v) for v in values] for k, values in attributes.items()},
        "domains": [],
    }
