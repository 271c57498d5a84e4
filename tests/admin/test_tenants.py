"""Tenants: onboarding, updates, suspension and reactivation, each announced on the ADMIN
stream; who may see which tenant."""

from __future__ import annotations

import copy
import secrets
import string
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from admin.identity.provider import IdentityError, Organization
from admin.main import create_app
from tests.admin.conftest import Admin
from tirek.demo.consortium import tenant_by_code

Auth = Callable[[str], Awaitable[dict[str, str]]]


def unique_code() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(5))


def tenant_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": unique_code(),
        "country": "UZ",
        "region": "Samarkand",
        "names": {"ru": "Истиқбол (Самарканд)", "en": "Istiqbol (Samarkand)"},
        "languages": ["uz", "ru"],
        "services_offered": ["reception", "legal_aid"],
        "service_areas": ["Samarkand", "Samarkand region"],
        "contact_hours": "Mon-Fri 09:00-18:00 (UTC+5)",
    }
    body.update(copy.deepcopy(changes))
    return body


async def onboard(admin: Admin, auth: Auth, **changes: Any) -> dict[str, Any]:
    response = await admin.client.post(
        "/v1/tenants", json=tenant_body(**changes), headers=await auth("platform-admin")
    )
    assert response.status_code == 201, f"onboarding failed: {response.text}"
    created: dict[str, Any] = response.json()
    return created


async def test_onboarding_a_tenant_publishes_tenant_onboarded_with_its_directory_details(
    admin: Admin, auth: Auth
) -> None:
    tenant = await onboard(admin, auth)

    assert tenant["status"] == "active"
    event = await admin.wait_for_event(tenant["id"], "tenant.onboarded")
    assert event["tenant"] == tenant["id"]
    assert event["source"] == "admin"
    assert event["data"] == {
        "tenant_id": tenant["id"],
        "code": tenant["code"],
        "country": "UZ",
        "region": "Samarkand",
        "kind": "ngo",
        "names": {"ru": "Истиқбол (Самарканд)", "en": "Istiqbol (Samarkand)"},
        "languages": ["uz", "ru"],
        "services_offered": ["reception", "legal_aid"],
        "service_areas": ["Samarkand", "Samarkand region"],
        "contact_hours": "Mon-Fri 09:00-18:00 (UTC+5)",
    }
    response = await admin.client.get(
        f"/v1/tenants/{tenant['id']}", headers=await auth("platform-admin")
    )
    assert response.status_code == 200
    assert response.json()["code"] == tenant["code"]


async def test_a_taken_code_is_refused_with_409_and_nothing_is_published(
    admin: Admin, auth: Auth
) -> None:
    first = await onboard(admin, auth)
    before = await admin.count("outbox")

    response = await admin.client.post(
        "/v1/tenants", json=tenant_body(code=first["code"]), headers=await auth("platform-admin")
    )

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await admin.count("tenants", "code = :c", c=first["code"]) == 1
    assert await admin.count("outbox") == before, "a refused onboarding wrote an event"


async def test_updating_a_tenant_publishes_its_new_state(admin: Admin, auth: Auth) -> None:
    tenant = await onboard(admin, auth)

    response = await admin.client.patch(
        f"/v1/tenants/{tenant['id']}",
        json={"services_offered": ["reception", "shelter"], "contact_hours": None},
        headers=await auth("platform-admin"),
    )

    assert response.status_code == 200, response.text
    assert response.json()["services_offered"] == ["reception", "shelter"]
    event = await admin.wait_for_event(tenant["id"], "tenant.updated")
    assert event["data"]["services_offered"] == ["reception", "shelter"]
    assert event["data"]["contact_hours"] is None
    assert event["data"]["names"] == tenant["names"], "the update must carry the full state"


async def test_an_update_that_changes_nothing_publishes_nothing(admin: Admin, auth: Auth) -> None:
    tenant = await onboard(admin, auth)
    await admin.wait_for_event(tenant["id"], "tenant.onboarded")

    response = await admin.client.patch(
        f"/v1/tenants/{tenant['id']}",
        json={"region": tenant["region"]},
        headers=await auth("platform-admin"),
    )

    assert response.status_code == 200
    assert await admin.count("outbox", "payload->>'subject' = :s", s=tenant["id"]) == 1


async def test_suspending_and_reactivating_a_tenant_are_announced_in_order(
    admin: Admin, auth: Auth
) -> None:
    tenant = await onboard(admin, auth)
    headers = await auth("platform-admin")

    suspended = await admin.client.post(f"/v1/tenants/{tenant['id']}/suspend", headers=headers)
    again = await admin.client.post(f"/v1/tenants/{tenant['id']}/suspend", headers=headers)
    reactivated = await admin.client.post(f"/v1/tenants/{tenant['id']}/reactivate", headers=headers)

    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert again.status_code == 409, "suspending a suspended tenant must be refused"
    assert reactivated.status_code == 200 and reactivated.json()["status"] == "active"
    await admin.wait_for_event(tenant["id"], "tenant.reactivated")
    types = [event["type"] for event in await admin.events(tenant["id"])]
    assert types == ["tenant.onboarded", "tenant.suspended", "tenant.reactivated"]


async def test_reactivating_an_active_tenant_is_refused(admin: Admin, auth: Auth) -> None:
    tenant = await onboard(admin, auth)
    response = await admin.client.post(
        f"/v1/tenants/{tenant['id']}/reactivate", headers=await auth("platform-admin")
    )
    assert response.status_code == 409


async def test_a_tenant_admin_sees_only_its_own_tenant_and_changes_nothing(
    admin: Admin, auth: Auth
) -> None:
    akt = tenant_by_code("AKT").id
    osh = tenant_by_code("OSH").id
    headers = await auth("akt-admin")

    listed = await admin.client.get("/v1/tenants", headers=headers)
    own = await admin.client.get(f"/v1/tenants/{akt}", headers=headers)
    other = await admin.client.get(f"/v1/tenants/{osh}", headers=headers)
    suspend = await admin.client.post(f"/v1/tenants/{akt}/suspend", headers=headers)
    patch = await admin.client.patch(
        f"/v1/tenants/{akt}", json={"region": "Elsewhere"}, headers=headers
    )

    assert [t["id"] for t in listed.json()] == [str(akt)]
    assert own.status_code == 200
    assert other.status_code == 404, "a tenant admin must not read another NGO's tenant"
    assert suspend.status_code == 403
    assert patch.status_code == 403
    assert await admin.count("tenants", "id = :i AND status = 'active'", i=akt) == 1


async def test_a_platform_admin_lists_every_tenant(admin: Admin, auth: Auth) -> None:
    tenant = await onboard(admin, auth)
    response = await admin.client.get(
        "/v1/tenants", params={"limit": 200}, headers=await auth("platform-admin")
    )
    ids = {t["id"] for t in response.json()}
    assert tenant["id"] in ids and str(tenant_by_code("OSH").id) in ids


async def test_case_staff_and_coordinators_may_not_use_admin(admin: Admin, auth: Auth) -> None:
    for user in ("akt-caseworker", "akt-manager", "coordinator"):
        response = await admin.client.get("/v1/tenants", headers=await auth(user))
        assert response.status_code == 403, f"{user} reached the tenant list"
    response = await admin.client.get("/v1/tenants")
    assert response.status_code == 401


async def test_an_unknown_tenant_is_404(admin: Admin, auth: Auth) -> None:
    response = await admin.client.post(
        f"/v1/tenants/{uuid.uuid4()}/suspend", headers=await auth("platform-admin")
    )
    assert response.status_code == 404


class _RefusingIdentity:
    """An identity provider that is down: every change fails."""

    async def set_enabled(self, organization: Organization, enabled: bool) -> None:
        raise IdentityError("provider unreachable", status=None)

    async def close(self) -> None:
        return None


async def test_a_suspension_the_identity_provider_refuses_changes_nothing(
    admin: Admin, auth: Auth
) -> None:
    tenant = await onboard(admin, auth)
    app = create_app(admin.settings, identity=_RefusingIdentity(), run_relay=False)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
            response = await client.post(
                f"/v1/tenants/{tenant['id']}/suspend", headers=await auth("platform-admin")
            )

    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await admin.count("tenants", "id = :i AND status = 'active'", i=tenant["id"]) == 1
    assert (
        await admin.count(
            "outbox",
            "payload->>'subject' = :s AND payload->>'type' = 'tenant.suspended'",
            s=tenant["id"],
        )
        == 0
    ), "a suspension that did not happen was announced"
