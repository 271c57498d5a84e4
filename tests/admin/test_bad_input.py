"""Bad input gets a 4xx problem document and changes nothing; nothing answers 500."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.admin.conftest import Admin
from tests.admin.test_tenants import onboard, tenant_body

Auth = Callable[[str], Awaitable[dict[str, str]]]

BAD_TENANTS: list[tuple[str, dict[str, Any]]] = [
    ("lower-case code", {"code": "abc"}),
    ("code too long", {"code": "ABCDEF"}),
    ("country not ISO", {"country": "Uzbekistan"}),
    ("no names", {"names": {}}),
    ("unknown language", {"names": {"xx": "Name"}}),
    ("unknown service", {"services_offered": ["teleportation"]}),
    ("empty region", {"region": "  "}),
    ("unknown field", {"owner": "someone"}),
    ("NUL in a name", {"names": {"ru": "a\u0000b"}}),
    ("names not an object", {"names": ["ru"]}),
    ("kind unknown", {"kind": "company"}),
    # Found by tests/fuzz: the schema's maxLength counts what is sent, white space included.
    ("name over 200 with a leading tab", {"names": {"en": "\t" + "w" * 200}}),
    ("region over 100 with trailing spaces", {"region": "Osh" + " " * 98}),
]


@pytest.mark.parametrize(("what", "changes"), BAD_TENANTS, ids=[w for w, _ in BAD_TENANTS])
async def test_a_bad_tenant_is_refused_with_a_problem_and_nothing_changes(
    admin: Admin, auth: Auth, what: str, changes: dict[str, Any]
) -> None:
    before = await admin.count("tenants"), await admin.count("outbox")
    response = await admin.client.post(
        "/v1/tenants", json=tenant_body(**changes), headers=await auth("platform-admin")
    )
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await admin.count("tenants"), await admin.count("outbox")) == before


@pytest.mark.parametrize(
    "patch",
    [{"code": "NEW"}, {"names": None}, {"country": "kz"}, {"languages": ["xx"]}, {"kind": "x"}],
)
async def test_a_bad_update_is_refused_and_leaves_the_tenant_as_it_was(
    admin: Admin, auth: Auth, patch: dict[str, Any]
) -> None:
    tenant = await onboard(admin, auth)
    headers = await auth("platform-admin")
    response = await admin.client.patch(f"/v1/tenants/{tenant['id']}", json=patch, headers=headers)
    assert response.status_code == 422, f"{patch}: {response.status_code} {response.text}"
    after = (await admin.client.get(f"/v1/tenants/{tenant['id']}", headers=headers)).json()
    assert after == tenant


async def test_a_body_that_is_not_json_is_refused(admin: Admin, auth: Auth) -> None:
    response = await admin.client.post(
        "/v1/tenants",
        content=b"{not json",
        headers={**await auth("platform-admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422


async def test_the_published_schema_refuses_a_blank_service_area_as_the_api_does(
    admin: Admin, auth: Auth
) -> None:
    # Found by tests/fuzz: the schema allowed " " (minLength 1), the API stripped it and
    # answered 422 string_too_short to input its own schema called valid.
    schema = (await admin.client.get("/openapi.json")).json()["components"]["schemas"]
    area = schema["TenantIn"]["properties"]["service_areas"]["items"]
    assert re.search(area["pattern"], " ") is None
    assert re.search(area["pattern"], " Osh region ") is not None
    response = await admin.client.post(
        "/v1/tenants",
        json=tenant_body(service_areas=[" "]),
        headers=await auth("platform-admin"),
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("path", ["/v1/tenants", "/v1/agreements"])
async def test_an_offset_past_what_the_database_counts_is_a_problem(
    admin: Admin, auth: Auth, path: str
) -> None:
    # Found by tests/fuzz: offset=1906114003762765643432226455552 was a 500.
    response = await admin.client.get(
        f"{path}?offset=1906114003762765643432226455552", headers=await auth("platform-admin")
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
