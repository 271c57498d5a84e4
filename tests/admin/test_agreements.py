"""Sharing agreements: granted and revoked by platform administrators, announced on ADMIN."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from tests.admin.conftest import Admin
from tests.admin.test_tenants import onboard

Auth = Callable[[str], Awaitable[dict[str, str]]]


async def test_granting_an_agreement_publishes_agreement_granted(admin: Admin, auth: Auth) -> None:
    sender, receiver = await onboard(admin, auth), await onboard(admin, auth)

    response = await admin.client.post(
        "/v1/agreements",
        json={
            "from_tenant": sender["id"],
            "to_tenant": receiver["id"],
            "services": ["return", "reception"],
            "valid_from": "2026-01-01",
            "valid_until": "2027-12-31",
        },
        headers=await auth("platform-admin"),
    )

    assert response.status_code == 201, response.text
    agreement = response.json()
    assert agreement["status"] == "active"
    event = await admin.wait_for_event(agreement["id"], "agreement.granted")
    assert event["data"] == {
        "agreement_id": agreement["id"],
        "from_tenant": sender["id"],
        "to_tenant": receiver["id"],
        "services": ["return", "reception"],
        "valid_from": "2026-01-01",
        "valid_until": "2027-12-31",
    }
    assert event["tenant"] == sender["id"]


async def test_revoking_an_agreement_publishes_agreement_revoked_once(
    admin: Admin, auth: Auth
) -> None:
    sender, receiver = await onboard(admin, auth), await onboard(admin, auth)
    headers = await auth("platform-admin")
    granted = await admin.client.post(
        "/v1/agreements",
        json={"from_tenant": sender["id"], "to_tenant": receiver["id"], "valid_from": "2026-01-01"},
        headers=headers,
    )
    agreement_id = granted.json()["id"]

    revoked = await admin.client.post(
        f"/v1/agreements/{agreement_id}/revoke", json={"reason": "programme ended"}, headers=headers
    )
    again = await admin.client.post(
        f"/v1/agreements/{agreement_id}/revoke", json={"reason": "twice"}, headers=headers
    )

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoke_reason"] == "programme ended"
    assert again.status_code == 409
    await admin.wait_for_event(agreement_id, "agreement.revoked")
    types = [event["type"] for event in await admin.events(agreement_id)]
    assert types == ["agreement.granted", "agreement.revoked"]
    listed = await admin.client.get(
        "/v1/agreements", params={"tenant_id": sender["id"]}, headers=headers
    )
    assert [a["id"] for a in listed.json()] == [agreement_id]


async def test_a_second_active_agreement_in_one_direction_is_a_conflict(
    admin: Admin, auth: Auth
) -> None:
    sender, receiver = await onboard(admin, auth), await onboard(admin, auth)
    headers = await auth("platform-admin")
    body = {"from_tenant": sender["id"], "to_tenant": receiver["id"], "valid_from": "2026-01-01"}

    first = await admin.client.post("/v1/agreements", json=body, headers=headers)
    second = await admin.client.post("/v1/agreements", json=body, headers=headers)
    reverse = await admin.client.post(
        "/v1/agreements",
        json={**body, "from_tenant": receiver["id"], "to_tenant": sender["id"]},
        headers=headers,
    )

    assert first.status_code == 201
    assert second.status_code == 409, second.text
    assert reverse.status_code == 201, "the other direction is a different agreement"
    assert await admin.count("sharing_agreements", "from_tenant = :t", t=sender["id"]) == 1


async def test_agreements_with_unknown_or_identical_tenants_or_reversed_dates_are_refused(
    admin: Admin, auth: Auth
) -> None:
    tenant = await onboard(admin, auth)
    headers = await auth("platform-admin")
    before = await admin.count("sharing_agreements")
    bodies = [
        {"from_tenant": tenant["id"], "to_tenant": str(uuid.uuid4()), "valid_from": "2026-01-01"},
        {"from_tenant": tenant["id"], "to_tenant": tenant["id"], "valid_from": "2026-01-01"},
        {
            "from_tenant": tenant["id"],
            "to_tenant": str(uuid.uuid4()),
            "valid_from": "2026-02-01",
            "valid_until": "2026-01-01",
        },
        {"from_tenant": tenant["id"], "to_tenant": "x", "valid_from": "2026-01-01"},
        {
            "from_tenant": tenant["id"],
            "to_tenant": str(uuid.uuid4()),
            "valid_from": "2026-01-01",
            "services": ["teleportation"],
        },
    ]
    for body in bodies:
        response = await admin.client.post("/v1/agreements", json=body, headers=headers)
        assert response.status_code == 422, f"{body}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await admin.count("sharing_agreements") == before


async def test_only_platform_admins_manage_agreements(admin: Admin, auth: Auth) -> None:
    for user in ("akt-admin", "akt-manager", "coordinator"):
        headers = await auth(user)
        assert (await admin.client.get("/v1/agreements", headers=headers)).status_code == 403
        response = await admin.client.post(
            f"/v1/agreements/{uuid.uuid4()}/revoke", json={"reason": "x"}, headers=headers
        )
        assert response.status_code == 403, f"{user} could revoke"
