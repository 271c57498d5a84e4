"""Every /v1 endpoint, called by every role that is not the platform's, leaks nothing.

The routes come from the application itself, so a new endpoint is covered the day it is added
and fails until someone writes the example request it is called with.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.routing import iter_route_contexts
from sqlalchemy import text

from tests.admin.conftest import Admin
from tirek.db.rls import tables_without_forced_rls_sql
from tirek.demo.consortium import tenant_by_code

Auth = Callable[[str], Awaitable[dict[str, str]]]
AKT = tenant_by_code("AKT").id
SOMEONE = uuid.uuid4()

#: One request body per endpoint (``None``: no body). A new endpoint must be added here.
EXAMPLES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/tenants"): {
        "code": "ZZZZ",
        "country": "KZ",
        "region": "Aktobe",
        "names": {"ru": "Чужой"},
    },
    ("GET", "/v1/tenants"): None,
    ("GET", "/v1/tenants/{tenant_id}"): None,
    ("PATCH", "/v1/tenants/{tenant_id}"): {"region": "Elsewhere"},
    ("POST", "/v1/tenants/{tenant_id}/suspend"): None,
    ("POST", "/v1/tenants/{tenant_id}/reactivate"): None,
    ("POST", "/v1/tenants/{tenant_id}/offboarding"): {"reason": "leaving"},
    ("GET", "/v1/tenants/{tenant_id}/offboarding"): None,
    ("POST", "/v1/tenants/{tenant_id}/offboarding/confirm"): {
        "confirm_code": "AKT",
        "reason": "leaving",
    },
    ("GET", "/v1/tenants/{tenant_id}/users"): None,
    ("POST", "/v1/tenants/{tenant_id}/users"): {"username": "intruder", "roles": ["caseworker"]},
    ("PUT", "/v1/tenants/{tenant_id}/users/{user_id}/roles"): {"roles": ["tenant_admin"]},
    ("POST", "/v1/tenants/{tenant_id}/users/{user_id}/deactivate"): None,
    ("POST", "/v1/agreements"): {
        "from_tenant": str(AKT),
        "to_tenant": str(tenant_by_code("OSH").id),
        "valid_from": "2026-01-01",
    },
    ("GET", "/v1/agreements"): None,
    ("POST", "/v1/agreements/{agreement_id}/revoke"): {"reason": "x"},
    ("GET", "/v1/dead-letters"): None,
    ("GET", "/v1/dead-letters/{sequence}"): None,
    ("POST", "/v1/dead-letters/{sequence}/replay"): {"reason": "x"},
    ("POST", "/v1/dead-letters/{sequence}/discard"): {"reason": "x"},
}
PATH_VALUES = {
    "tenant_id": str(AKT),
    "user_id": str(tenant_by_code("AKT").id),  # any uuid: the request must not get that far
    "agreement_id": str(SOMEONE),
    "sequence": "1",
}


def v1_operations(admin: Admin) -> list[tuple[str, str]]:
    operations = [
        (method, str(route.path))
        for route in iter_route_contexts(admin.app.routes)
        if (route.path or "").startswith("/v1")
        for method in route.methods or ()
    ]
    assert operations, "found no /v1 endpoint at all"
    return sorted(operations)


async def test_every_endpoint_has_an_example_request(admin: Admin) -> None:
    missing = [op for op in v1_operations(admin) if op not in EXAMPLES]
    assert not missing, f"add example requests for {missing}"


async def test_no_endpoint_serves_case_staff_coordinators_or_another_ngos_admin(
    admin: Admin, auth: Auth
) -> None:
    before = {
        t: await admin.count(t)
        for t in ("tenants", "sharing_agreements", "outbox", "tenant_offboardings")
    }
    for user in ("akt-caseworker", "akt-manager", "coordinator", "osh-admin"):
        headers = await auth(user)
        for method, template in v1_operations(admin):
            body = EXAMPLES[(method, template)]
            response = await admin.client.request(
                method,
                template.format(**PATH_VALUES),
                headers=headers,
                **({"json": body} if body is not None else {}),
            )
            what = f"{user}: {method} {template} -> {response.status_code}"
            if user == "osh-admin" and (method, template) == ("GET", "/v1/tenants"):
                # Its own tenant, and nothing of AKT's.
                assert response.status_code == 200, what
                assert str(AKT) not in response.text, f"{what} lists AKT"
                continue
            assert response.status_code in (403, 404), f"{what}: {response.text[:200]}"
    after = {t: await admin.count(t) for t in before}
    assert after == before, "a refused request changed something"


async def test_admin_tables_are_the_platforms_and_need_no_row_level_security(
    admin: Admin,
) -> None:
    async with admin.admin_engine.connect() as conn:
        unprotected = (await conn.execute(text(tables_without_forced_rls_sql()))).scalars().all()
    assert unprotected == [], f"tenant-owned tables without forced RLS: {unprotected}"
