"""``Idempotency-Key`` in admin, whose unit of work has no tenant: a retried onboarding answers
the first tenant, and a retried suspension the first answer, each announced once."""

from __future__ import annotations

import uuid

from tests.admin.conftest import Admin
from tests.admin.test_tenants import Auth, onboard, tenant_body


async def test_a_retried_onboarding_answers_the_first_tenant_and_announces_it_once(
    admin: Admin, auth: Auth
) -> None:
    headers = {**await auth("platform-admin"), "Idempotency-Key": str(uuid.uuid4())}
    body = tenant_body()
    first = await admin.client.post("/v1/tenants", json=body, headers=headers)
    retry = await admin.client.post("/v1/tenants", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert (retry.status_code, retry.json()) == (201, first.json()), "not the first answer"
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert await admin.count("tenants", "code = :c", c=body["code"]) == 1
    announced = [
        e for e in await admin.events(first.json()["id"]) if e["type"] == "tenant.onboarded"
    ]
    assert len(announced) == 1


async def test_a_retried_suspension_answers_the_first_result_not_a_conflict(
    admin: Admin, auth: Auth
) -> None:
    tenant = await onboard(admin, auth)
    headers = {**await auth("platform-admin"), "Idempotency-Key": str(uuid.uuid4())}
    path = f"/v1/tenants/{tenant['id']}/suspend"
    first = await admin.client.post(path, headers=headers)
    retry = await admin.client.post(path, headers=headers)
    # Without the key, suspending a suspended tenant is a 409: the retry must not see that.
    assert (first.status_code, retry.status_code) == (200, 200), retry.text
    assert retry.json() == first.json()
    await admin.wait_for_event(tenant["id"], "tenant.suspended")
    suspended = [e for e in await admin.events(tenant["id"]) if e["type"] == "tenant.suspended"]
    assert len(suspended) == 1
