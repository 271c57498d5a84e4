"""An NGO leaving the consortium, as intake sees it: while it is being offboarded its
administrator downloads every row intake holds of it (nobody else may), then
``tenant.offboarded`` erases them all, once, and no other NGO's row changes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx

from tests.intake.conftest import Intake
from tests.intake.test_assistance_consents_contacts import CONSENT
from tests.intake.test_cases import CASE, Auth
from tests.offboarding import (
    Ngo,
    consumed,
    eventually,
    new_ngo,
    onboarded,
    publish,
    redeliver,
    rows_of,
)
from tirek.auth import NOT_OFFBOARDING_DETAIL, SUSPENDED_DETAIL
from tirek.events.admin import TenantOffboarded, TenantOffboardingStarted
from tirek.messaging.streams import INTAKE_TENANTS

EXPORT = "/v1/tenant-export"


async def open_a_case(intake: Intake, ngo: Ngo) -> dict[str, Any]:
    """A case with assistance, a consent and an anonymous contact: rows in most tables."""
    headers = ngo.headers["caseworker"]
    registered = await intake.client.post("/v1/cases", json=copy.deepcopy(CASE), headers=headers)
    assert registered.status_code == 201, registered.text
    case: dict[str, Any] = registered.json()
    for path, body in (
        (
            f"/v1/cases/{case['id']}/assistance",
            {"type": "legal_aid", "mode": "office", "provided_on": "2026-03-12"},
        ),
        (f"/v1/cases/{case['id']}/consents", CONSENT),
        (
            "/v1/contacts",
            {"received_on": "2026-03-15", "topic": "employment_abroad", "sex": "female"},
        ),
    ):
        response = await intake.client.post(path, json=body, headers=headers)
        assert response.status_code == 201, f"{path}: {response.text}"
    return case


async def test_a_leaving_ngo_exports_its_data_then_loses_every_row_and_no_other_ngo_changes(
    intake: Intake, auth: Auth, devidp_url: str, _server_dir: Path
) -> None:
    leaving, staying = (
        await new_ngo(devidp_url, _server_dir),
        await new_ngo(devidp_url, _server_dir),
    )
    for ngo in (leaving, staying):
        await publish(intake.settings.nats_url, intake.naming, onboarded(ngo))
    await consumed(intake.settings.nats_url, intake.naming, INTAKE_TENANTS.name)
    case = await open_a_case(intake, leaving)
    await open_a_case(intake, staying)
    staying_before = await rows_of(intake.admin_engine, staying.id)
    leaving_before = await rows_of(intake.admin_engine, leaving.id)
    assert {"cases.tenant_id", "persons.tenant_id", "consents.tenant_id"} <= set(leaving_before)
    too_early = await intake.client.get(EXPORT, headers=leaving.headers["tenant_admin"])

    await publish(
        intake.settings.nats_url, intake.naming, TenantOffboardingStarted(tenant_id=leaving.id)
    )
    export: list[httpx.Response] = []

    async def exported() -> bool:
        export[:] = [await intake.client.get(EXPORT, headers=leaving.headers["tenant_admin"])]
        return export[0].status_code == 200

    await eventually(exported, "the leaving NGO's administrator downloads its export")
    caseworker = await intake.client.get("/v1/cases", headers=leaving.headers["caseworker"])
    manager = await intake.client.get(EXPORT, headers=leaving.headers["case_manager"])
    platform = await intake.client.get(EXPORT, headers=await auth("platform-admin"))
    other = await intake.client.get(EXPORT, headers=staying.headers["tenant_admin"])

    assert too_early.status_code == 409 and too_early.json()["detail"] == NOT_OFFBOARDING_DETAIL
    body = export[0].json()
    assert body["tenant_id"] == str(leaving.id) and body["service"] == "intake"
    assert [c["id"] for c in body["tables"]["cases"]] == [case["id"]]
    assert body["tables"]["persons"][0]["first_name"] == "Тахир", "the export is the NGO's data"
    assert len(body["tables"]["consents"]) == 1 and len(body["tables"]["anonymous_contacts"]) == 1
    assert str(staying.id) not in export[0].text, "the export holds another NGO's rows"
    assert "attachment" in export[0].headers["content-disposition"]
    assert caseworker.status_code == 403 and caseworker.json()["detail"] == SUSPENDED_DETAIL
    assert manager.status_code == 403, "only the NGO's administrators download the export"
    assert platform.status_code == 403, "the platform administrator read an NGO's cases"
    assert other.status_code == 409, "an NGO that is not leaving got an export"

    offboarded = await publish(
        intake.settings.nats_url, intake.naming, TenantOffboarded(tenant_id=leaving.id)
    )

    async def erased() -> bool:
        return await rows_of(intake.admin_engine, leaving.id) == {}

    await eventually(erased, "intake erased every row of the offboarded NGO")
    await redeliver(intake.settings.nats_url, intake.naming, offboarded)
    await consumed(intake.settings.nats_url, intake.naming, INTAKE_TENANTS.name)
    assert await rows_of(intake.admin_engine, staying.id) == staying_before
    assert await intake.count("inbox", "event_id = :e", e=offboarded.id) == 1
    assert await intake.count("tenants", "id = :t", t=leaving.id) == 0
    gone = await intake.client.get(EXPORT, headers=leaving.headers["tenant_admin"])
    assert gone.status_code == 409, "an offboarded NGO can still export"
