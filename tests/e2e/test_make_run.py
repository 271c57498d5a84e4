"""The platform as ``make run`` starts it, driven only through its HTTP APIs."""

from __future__ import annotations

import asyncio

import httpx
from keycloak import KeycloakOpenID

from tirek.demo.consortium import DEMO_PASSWORD, TENANTS
from tirek.demo.seed import seed_intake


def test_a_demo_caseworker_gets_a_token_and_registers_a_case(platform: dict[str, str]) -> None:
    oidc = KeycloakOpenID(server_url=platform["issuer"], realm_name="tirek", client_id="tirek-web")
    token = oidc.token("akt-caseworker", DEMO_PASSWORD)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    intake = platform["intake"]

    seeded = httpx.get(f"{intake}/v1/cases", headers=headers, params={"limit": 200})
    assert seeded.status_code == 200
    assert len(seeded.json()["items"]) == 3, "the demo seed should have registered Aktobe's cases"

    created = httpx.post(
        f"{intake}/v1/cases",
        headers=headers,
        json={
            "person": {
                "first_name": "Айжан",
                "second_name": "Касымова",
                "sex": "female",
                "estimated_age": 24,
                "citizenship": "KG",
            },
            "categories": ["presumed_victim_of_trafficking"],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["number"].startswith("KZ-AKT-")


def test_every_service_is_ready_and_documents_its_api(platform: dict[str, str]) -> None:
    ready = httpx.get(f"{platform['intake']}/health/ready")
    assert ready.status_code == 200, ready.text
    assert httpx.get(f"{platform['intake']}/docs").status_code == 200
    assert "/v1/cases" in httpx.get(f"{platform['intake']}/openapi.json").json()["paths"]


def test_seeding_again_changes_nothing(platform: dict[str, str]) -> None:
    assert int(platform["seeded"]) == 3 * sum(1 for t in TENANTS if t.kind == "ngo")
    again = asyncio.run(seed_intake(platform["intake"], f"{platform['issuer']}realms/tirek"))
    assert again == 0
