"""An NGO leaving the consortium, as notification sees it: its administrator downloads what
notification holds of it (recipients, channel and rule settings, messages and deliveries),
then ``tenant.offboarded`` erases it all, once; the messages another NGO's staff received
about a referral from the leaving NGO are that NGO's and stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.notification.conftest import Notification
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
from tirek.events import Envelope
from tirek.events.admin import TenantOffboarded, TenantOffboardingStarted
from tirek.events.referral import ReferralSent
from tirek.messaging.streams import NOTIFICATION_ADMIN
from tirek.web.tenant_export import EXPORT_PATH


def referral_sent(sender: Ngo, receiver: Ngo) -> Envelope:
    payload = ReferralSent(
        referral_id=uuid.uuid4(),
        referral_number=f"R-{sender.country}-{sender.code}-2026-000001",
        case_id=uuid.uuid4(),
        sender_tenant=sender.id,
        receiver_tenant=receiver.id,
        services=["return"],
        urgency="normal",
        state="sent",
        actor=str(uuid.uuid4()),
        at=datetime.now(UTC),
        due_at=datetime.now(UTC) + timedelta(hours=72),
    )
    return Envelope.wrap(payload, tenant=sender.id, subject=payload.referral_id)


async def staff(notif: Notification, ngo: Ngo) -> None:
    """The NGO's administrator registers a recipient and turns one rule off."""
    user = str(uuid.uuid4())
    headers = ngo.headers["tenant_admin"]
    response = await notif.client.put(
        f"/v1/recipients/{user}",
        json={"roles": ["caseworker"], "language": "ru", "email": f"{user}@ngo.example"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    rules = await notif.client.get("/v1/rules", headers=headers)
    assert rules.status_code == 200, rules.text
    changed = await notif.client.put(
        f"/v1/rules/{rules.json()[0]['id']}", json={"enabled": False}, headers=headers
    )
    assert changed.status_code == 200, changed.text


async def test_a_leaving_ngo_exports_then_loses_every_row_and_the_other_ngo_keeps_its_own(
    notif: Notification, devidp_url: str, _server_dir: Path
) -> None:
    url, naming = notif.settings.nats_url, notif.naming
    leaving = await new_ngo(devidp_url, _server_dir, country="KZ")
    staying = await new_ngo(devidp_url, _server_dir, country="KG")
    for ngo in (leaving, staying):
        await publish(url, naming, onboarded(ngo))
    await consumed(url, naming, NOTIFICATION_ADMIN.name)
    for ngo in (leaving, staying):
        await staff(notif, ngo)
    # Each NGO's staff hear of a referral from the other: messages in both tenants.
    for sender, receiver in ((leaving, staying), (staying, leaving)):
        event = referral_sent(sender, receiver)
        await notif.publish(event)
        await notif.planned(event.id, 1)
    await notif.dispatcher.dispatch_due()
    staying_before = await rows_of(notif.admin_engine, staying.id)
    leaving_before = await rows_of(notif.admin_engine, leaving.id)
    assert {"recipients.tenant_id", "deliveries.tenant_id", "rule_settings.tenant_id"} <= set(
        leaving_before
    )

    await publish(url, naming, TenantOffboardingStarted(tenant_id=leaving.id))
    export = []

    async def exported() -> bool:
        response = await notif.client.get(EXPORT_PATH, headers=leaving.headers["tenant_admin"])
        export[:] = [response]
        return response.status_code == 200

    await eventually(exported, "the leaving NGO's administrator downloads its export")
    tables = export[0].json()["tables"]
    assert len(tables["recipients"]) == 1 and len(tables["rule_settings"]) == 1
    assert tables["deliveries"] and tables["tenants"][0]["id"] == str(leaving.id)
    assert str(staying.id) not in export[0].text

    offboarded = await publish(url, naming, TenantOffboarded(tenant_id=leaving.id))

    async def erased() -> bool:
        return (
            await rows_of(notif.admin_engine, leaving.id, table_owners={"tenants": ("id",)}) == {}
        )

    await eventually(erased, "notification erased every row of the offboarded NGO")
    await redeliver(url, naming, offboarded)
    await consumed(url, naming, NOTIFICATION_ADMIN.name)
    assert await rows_of(notif.admin_engine, staying.id) == staying_before
    assert await notif.count("inbox", "event_id = :e", e=offboarded.id) == 1
