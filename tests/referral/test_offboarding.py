"""An NGO leaving the consortium, as referral sees it: its administrator first downloads every
referral it sent or received (with history, messages, the return plan) and its agreements;
then ``tenant.offboarded`` erases all of them, in both directions, once — and a referral
between two other NGOs is untouched."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

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
from tests.referral.conftest import PACKAGE, ReferralService
from tirek.events.admin import AgreementGranted, TenantOffboarded, TenantOffboardingStarted
from tirek.messaging.streams import REFERRAL_ADMIN
from tirek.web.tenant_export import EXPORT_PATH

OWNERS = ("tenant_id", "sender_tenant", "receiver_tenant", "from_tenant", "to_tenant")


def user_of(headers: dict[str, str]) -> str:
    """The ``sub`` of the token in ``headers`` (a user id the API expects)."""
    payload = headers["Authorization"].split()[1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


async def referred(referral: ReferralService, sender: Ngo, receiver: Ngo) -> dict[str, Any]:
    """A referral from ``sender`` to ``receiver``: sent, accepted, a return planned and a
    message posted (rows in every referral table)."""
    client = referral.client
    created = await client.post(
        "/v1/referrals",
        headers=sender.headers["caseworker"],
        json={
            "case_id": str(uuid.uuid4()),
            "receiver_tenant": str(receiver.id),
            "services": ["return"],
            "urgency": "normal",
            "reason": "Returning home after labour exploitation.",
            "consent_id": str(uuid.uuid4()),
            "fields": list(PACKAGE),
        },
    )
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    for action, role in (("submit", "caseworker"), ("approve", "case_manager")):
        response = await client.post(f"/v1/referrals/{rid}/{action}", headers=sender.headers[role])
        assert response.status_code == 200, f"{action}: {response.text}"
    await referral.share(created.json())

    async def sent() -> bool:
        response = await client.get(f"/v1/referrals/{rid}", headers=receiver.headers["caseworker"])
        return response.status_code == 200 and response.json()["state"] == "sent"

    await eventually(sent, "the referral reached its receiver")
    receiving = receiver.headers["caseworker"]
    for path, body, headers in (
        (f"/v1/referrals/{rid}/accept", {"responsible_user": user_of(receiving)}, receiving),
        (f"/v1/referrals/{rid}/messages", {"body": "We meet her at the border."}, receiving),
        (
            f"/v1/referrals/{rid}/return",
            {"planned_date": date.today().isoformat(), "transport": "bus"},
            sender.headers["caseworker"],
        ),
    ):
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), f"{path}: {response.text}"
    return dict(created.json())


async def test_a_leaving_ngo_exports_then_loses_every_referral_it_is_party_to_and_nothing_else(
    referral: ReferralService, devidp_url: str, _server_dir: Path
) -> None:
    url, naming = referral.nats_url, referral.naming
    leaving = await new_ngo(devidp_url, _server_dir, country="KZ")
    partner = await new_ngo(devidp_url, _server_dir, country="KG")
    third = await new_ngo(devidp_url, _server_dir, country="UZ")
    for ngo in (leaving, partner, third):
        await publish(url, naming, onboarded(ngo))
    for sender, receiver in ((leaving, partner), (partner, leaving), (third, partner)):
        await publish(
            url,
            naming,
            AgreementGranted(
                agreement_id=uuid.uuid4(),
                from_tenant=sender.id,
                to_tenant=receiver.id,
                services=[],
                valid_from=date(2026, 1, 1),
            ),
        )
    await consumed(url, naming, REFERRAL_ADMIN.name)
    outgoing = await referred(referral, leaving, partner)
    incoming = await referred(referral, partner, leaving)
    elsewhere = await referred(referral, third, partner)
    third_before = await rows_of(referral.admin_engine, third.id, OWNERS)
    assert {"referrals.sender_tenant", "referral_messages.sender_tenant"} <= set(
        await rows_of(referral.admin_engine, leaving.id, OWNERS)
    )

    await publish(url, naming, TenantOffboardingStarted(tenant_id=leaving.id))
    export: list[Any] = []

    async def exported() -> bool:
        response = await referral.client.get(EXPORT_PATH, headers=leaving.headers["tenant_admin"])
        export[:] = [response]
        return response.status_code == 200

    await eventually(exported, "the leaving NGO's administrator downloads its export")
    tables = export[0].json()["tables"]
    assert sorted(r["id"] for r in tables["referrals"]) == sorted([outgoing["id"], incoming["id"]])
    assert len(tables["referral_messages"]) == 2 and len(tables["return_plans"]) == 2
    assert len(tables["sharing_agreements"]) == 2
    assert elsewhere["id"] not in export[0].text, "the export holds a referral of other NGOs"

    offboarded = await publish(url, naming, TenantOffboarded(tenant_id=leaving.id))

    async def erased() -> bool:
        return await rows_of(referral.admin_engine, leaving.id, OWNERS) == {}

    await eventually(erased, "referral erased every row the offboarded NGO is party to")
    await redeliver(url, naming, offboarded)
    await consumed(url, naming, REFERRAL_ADMIN.name)

    assert await rows_of(referral.admin_engine, third.id, OWNERS) == third_before
    for gone in (outgoing, incoming):
        response = await referral.client.get(
            f"/v1/referrals/{gone['id']}", headers=partner.headers["caseworker"]
        )
        assert response.status_code == 404, "the partner still sees a referral with the NGO"
        assert await referral.count("deadlines", "referral_id = :r", r=gone["id"]) == 0
    kept = await referral.client.get(
        f"/v1/referrals/{elsewhere['id']}/messages", headers=partner.headers["caseworker"]
    )
    assert kept.status_code == 200 and len(kept.json()) == 1
    directory = await referral.client.get(
        "/v1/directory", params={"country": "KZ"}, headers=partner.headers["caseworker"]
    )
    assert str(leaving.id) not in directory.text, "the partner directory still lists the NGO"
    assert await referral.count("inbox", "event_id = :e", e=offboarded.id) == 1
