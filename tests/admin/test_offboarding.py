"""Offboarding an NGO through the admin API: started and confirmed in two explicit, audited
calls, announced on the ADMIN stream, carried out in the identity provider; cancelled by
reactivation; and never a way to change an NGO that is gone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from keycloak.exceptions import KeycloakAuthenticationError

from tests.admin.conftest import Admin
from tests.admin.test_tenants import onboard
from tests.admin.test_users import (
    caseworker_with_password,
    create_user,
    password_token,
    unique_username,
)

Auth = Callable[[str], Awaitable[dict[str, str]]]


async def start(admin: Admin, auth: Auth, tenant: dict[str, Any]) -> Any:
    return await admin.client.post(
        f"/v1/tenants/{tenant['id']}/offboarding",
        json={"reason": "the NGO closes its trafficking programme"},
        headers=await auth("platform-admin"),
    )


async def confirm(admin: Admin, auth: Auth, tenant: dict[str, Any], code: str) -> Any:
    return await admin.client.post(
        f"/v1/tenants/{tenant['id']}/offboarding/confirm",
        json={"confirm_code": code, "reason": "exports handed over on 2026-05-04"},
        headers=await auth("platform-admin"),
    )


async def test_starting_an_offboarding_is_audited_and_announced_once(
    admin: Admin, auth: Auth
) -> None:
    tenant = await onboard(admin, auth)

    started = await start(admin, auth, tenant)
    again = await start(admin, auth, tenant)
    suspend = await admin.client.post(
        f"/v1/tenants/{tenant['id']}/suspend", headers=await auth("platform-admin")
    )

    assert started.status_code == 200, started.text
    body = started.json()
    assert body["tenant_status"] == "offboarding"
    assert body["start_reason"] == "the NGO closes its trafficking programme"
    assert body["started_by"] and body["confirmed_at"] is None
    assert again.status_code == 409, "an offboarding was started twice"
    assert suspend.status_code == 409, "a leaving NGO was suspended instead"
    await admin.wait_for_event(tenant["id"], "tenant.offboarding_started")


async def test_confirming_names_the_tenant_revokes_agreements_and_removes_its_users(
    admin: Admin, auth: Auth, devidp_url: str
) -> None:
    tenant, partner = await onboard(admin, auth), await onboard(admin, auth)
    headers = await auth("platform-admin")
    _, username, password = await caseworker_with_password(admin, headers, tenant["id"], "cw")
    granted = await admin.client.post(
        "/v1/agreements",
        json={"from_tenant": partner["id"], "to_tenant": tenant["id"], "valid_from": "2026-01-01"},
        headers=headers,
    )
    assert granted.status_code == 201, granted.text
    assert (await start(admin, auth, tenant)).status_code == 200

    wrong = await confirm(admin, auth, tenant, code="XXXXX")
    unchanged = await admin.count("tenants", "id = :i AND status = 'offboarding'", i=tenant["id"])
    confirmed = await confirm(admin, auth, tenant, code=tenant["code"])
    twice = await confirm(admin, auth, tenant, code=tenant["code"])

    assert wrong.status_code == 422 and unchanged == 1, "a mistyped confirmation erased an NGO"
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["tenant_status"] == "offboarded"
    assert body["confirm_reason"] == "exports handed over on 2026-05-04"
    assert (body["users_removed"], body["agreements_revoked"]) == (1, 1)
    assert twice.status_code == 409
    assert (
        await admin.count(
            "sharing_agreements", "id = :i AND status = 'revoked'", i=granted.json()["id"]
        )
        == 1
    )
    with pytest.raises(KeycloakAuthenticationError):
        await password_token(devidp_url, username, password)
    await admin.wait_for_event(tenant["id"], "tenant.offboarded")
    types = [event["type"] for event in await admin.events(tenant["id"])]
    assert types == ["tenant.onboarded", "tenant.offboarding_started", "tenant.offboarded"]


async def test_an_offboarded_tenant_is_final(admin: Admin, auth: Auth) -> None:
    tenant = await onboard(admin, auth)
    headers = await auth("platform-admin")
    await start(admin, auth, tenant)
    await confirm(admin, auth, tenant, code=tenant["code"])

    attempts = [
        await admin.client.post(f"/v1/tenants/{tenant['id']}/reactivate", headers=headers),
        await admin.client.patch(
            f"/v1/tenants/{tenant['id']}", json={"region": "Elsewhere"}, headers=headers
        ),
        await start(admin, auth, tenant),
        await create_user(
            admin, headers, tenant["id"], username=unique_username("x"), roles=["caseworker"]
        ),
    ]

    assert [a.status_code for a in attempts] == [409, 409, 409, 409]
    assert await admin.count("tenants", "id = :i AND status = 'offboarded'", i=tenant["id"]) == 1


async def test_reactivating_cancels_an_offboarding_that_was_not_confirmed(
    admin: Admin, auth: Auth
) -> None:
    tenant = await onboard(admin, auth)
    headers = await auth("platform-admin")
    await start(admin, auth, tenant)

    reactivated = await admin.client.post(f"/v1/tenants/{tenant['id']}/reactivate", headers=headers)
    confirm_after = await confirm(admin, auth, tenant, code=tenant["code"])
    audit = await admin.client.get(f"/v1/tenants/{tenant['id']}/offboarding", headers=headers)

    assert reactivated.status_code == 200 and reactivated.json()["status"] == "active"
    assert confirm_after.status_code == 409, "a cancelled offboarding was confirmed"
    assert audit.json()["cancelled_by"] and audit.json()["confirmed_at"] is None
    await admin.wait_for_event(tenant["id"], "tenant.reactivated")


async def test_a_tenant_never_offboarded_has_no_offboarding_record(
    admin: Admin, auth: Auth
) -> None:
    tenant = await onboard(admin, auth)
    response = await admin.client.get(
        f"/v1/tenants/{tenant['id']}/offboarding", headers=await auth("platform-admin")
    )
    never = await confirm(admin, auth, tenant, code=tenant["code"])
    assert response.status_code == 404
    assert never.status_code == 409
