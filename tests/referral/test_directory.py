"""The partner directory and the sharing agreements, kept from admin's events (real NATS)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from tests.referral.conftest import AKT, TLD, ReferralService
from tirek.events.admin import AgreementGranted, AgreementRevoked, TenantOnboarded, TenantSuspended
from tirek.testing.waiting import eventually


async def directory(referral: ReferralService, user: str, query: str) -> list[dict[str, Any]]:
    response = await referral.client.get(f"/v1/directory{query}", headers=await referral.auth(user))
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_the_directory_answers_who_can_receive_a_person_where(
    referral: ReferralService,
) -> None:
    newcomer = uuid.uuid4()
    await referral.publish(
        TenantOnboarded(
            tenant_id=newcomer,
            code="BKN",
            country="KG",
            region="Batken",
            names={"en": "Batken Reintegration Centre"},
            languages=["ky", "ru"],
            services_offered=["reintegration", "psychological_care"],
            service_areas=["Batken", "Osh"],
            contact_hours="Mon-Fri 09:00-18:00 (UTC+6)",
        ),
        tenant=newcomer,
        subject=newcomer,
    )

    async def listed() -> bool:
        found = await directory(referral, "akt-caseworker", "?country=KG&service=reintegration")
        return str(newcomer) in [p["tenant_id"] for p in found]

    await eventually(listed, "the onboarded NGO never appeared in the directory")
    in_osh = await directory(referral, "coordinator", "?service=reintegration&area=Osh")
    # The demo NGOs offer services too (Meken in Osh offers reintegration): look for ours.
    assert "BKN" in [p["code"] for p in in_osh]
    assert all("reintegration" in p["services_offered"] for p in in_osh)
    kyrgyz = {p["code"]: p for p in await directory(referral, "akt-caseworker", "?country=KG")}
    assert {"OSH", "JAL", "BKN"} <= kyrgyz.keys() and "AKT" not in kyrgyz
    assert "return" in kyrgyz["OSH"]["you_may_refer_for"], "the demo agreement AKT→OSH is missing"
    assert kyrgyz["BKN"]["you_may_refer_for"] == [], "no agreement with BKN, yet AKT may refer"

    await referral.publish(TenantSuspended(tenant_id=newcomer), tenant=newcomer, subject=newcomer)

    async def gone() -> bool:
        found = await directory(referral, "akt-caseworker", "?country=KG&service=reintegration")
        return str(newcomer) not in [p["tenant_id"] for p in found]

    await eventually(gone, "a suspended NGO is still listed")


async def test_referrals_follow_agreements_granted_and_revoked(referral: ReferralService) -> None:
    """TLD and AKT (two Kazakh NGOs) have no demo agreement: this test grants and revokes one."""
    agreement = uuid.uuid4()
    headers = await referral.auth("tld-caseworker")

    async def refer(services: list[str]) -> int:
        response = await referral.client.post(
            "/v1/referrals",
            headers=headers,
            json={
                "case_id": str(uuid.uuid4()),
                "receiver_tenant": str(AKT),
                "services": services,
                "reason": "Needs legal aid in Aktobe.",
                "consent_id": str(uuid.uuid4()),
                "fields": ["first_name"],
            },
        )
        return response.status_code

    assert await refer(["legal_aid"]) == 422
    await referral.publish(
        AgreementGranted(
            agreement_id=agreement,
            from_tenant=TLD,
            to_tenant=AKT,
            services=["legal_aid", "documents"],
            valid_from=date(2026, 1, 1),
        ),
        tenant=TLD,
        subject=agreement,
    )

    async def granted() -> bool:
        return await referral.count("sharing_agreements", "id = :a", a=agreement) == 1

    await eventually(granted, "the granted agreement never arrived")
    assert await refer(["legal_aid", "documents"]) == 201
    assert await refer(["legal_aid", "shelter"]) == 422, "referred for a service not agreed"
    reverse = await referral.client.get("/v1/directory?country=KZ", headers=headers)
    akt = next(p for p in reverse.json() if p["code"] == "AKT")
    assert akt["you_may_refer_for"] == ["documents", "legal_aid"]

    await referral.publish(AgreementRevoked(agreement_id=agreement), tenant=TLD, subject=agreement)

    async def revoked() -> bool:
        return await refer(["legal_aid"]) == 422

    await eventually(revoked, "referrals are still allowed after the agreement was revoked")
