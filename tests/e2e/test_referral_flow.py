"""A cross-border referral end to end, through the HTTP APIs of intake and referral only:
Aktobe refers a Kyrgyz victim to Osh, Osh accepts, the return is planned and confirmed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import nats

from tirek.demo.consortium import USERS, tenant_by_code
from tirek.demo.seed import password_token
from tirek.messaging.naming import Naming
from tirek.testing.waiting import eventually

PERSON = {
    "first_name": "Айгуль",
    "second_name": "Токтогулова",
    "name_latin": "Aigul Toktogulova",
    "sex": "female",
    "birth_date": "1999-02-11",
    "citizenship": "KG",
    "phone": "+996555123456",
    "documents": [{"type": "passport", "status": "confiscated", "number": "AC1234567"}],
}
#: What the person consented to share with Osh: not the phone, not the birth date.
SHARED = ["first_name", "second_name", "sex", "citizenship", "documents"]


def user_id(username: str) -> str:
    return str(next(u.id for u in USERS if u.username == username))


class Api:
    def __init__(self, client: httpx.AsyncClient, issuer: str) -> None:
        self.client = client
        self.issuer = issuer
        self.tokens: dict[str, str] = {}

    async def call(self, user: str, method: str, url: str, body: Any = None) -> httpx.Response:
        if user not in self.tokens:
            self.tokens[user] = await password_token(self.client, self.issuer, user)
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return await self.client.request(method, url, json=body, headers=headers)

    async def ok(self, user: str, method: str, url: str, body: Any = None) -> dict[str, Any]:
        response = await self.call(user, method, url, body)
        assert response.status_code in (200, 201), f"{method} {url}: {response.text}"
        return dict(response.json())


async def referral_events(nats_url: str, naming: Naming, referral_id: str) -> list[str]:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().subscribe(
            naming.subject("tirek.referral.>"), ordered_consumer=True
        )
        types: list[str] = []
        try:
            while True:
                body = json.loads((await sub.next_msg(timeout=1)).data)
                if body["data"].get("referral_id") == referral_id:
                    types.append(body["type"])
        except nats.errors.TimeoutError:
            return types
    finally:
        await nc.close()


async def test_a_referral_from_aktobe_to_osh_goes_from_consent_to_a_completed_return(
    platform: dict[str, str],
) -> None:
    intake, referral = platform["intake"], platform["referral"]
    osh = str(tenant_by_code("OSH").id)
    async with httpx.AsyncClient(timeout=30) as client:
        api = Api(client, f"{platform['issuer']}realms/tirek")

        case = await api.ok(
            "akt-caseworker",
            "POST",
            f"{intake}/v1/cases",
            {
                "person": PERSON,
                "categories": ["identified_victim_of_trafficking"],
                "exploitation_forms": ["labour"],
            },
        )
        consent = await api.ok(
            "akt-caseworker",
            "POST",
            f"{intake}/v1/cases/{case['id']}/consents",
            {
                "purpose": "referral",
                "scope": SHARED,
                "recipient_tenant": osh,
                "method": "written",
                "given_at": datetime.now(UTC).isoformat(),
            },
        )
        draft = {
            "case_id": case["id"],
            "receiver_tenant": osh,
            "services": ["return", "reintegration"],
            "urgency": "urgent",
            "reason": "Return home to Osh.",
            "consent_id": consent["id"],
            "fields": SHARED,
        }
        created = await eventually(
            lambda: _created(api, f"{referral}/v1/referrals", draft),
            "the agreement AKT→OSH is known",
        )
        rid = created["id"]
        await api.ok("akt-caseworker", "POST", f"{referral}/v1/referrals/{rid}/submit")

        # Four eyes: the caseworker who created it cannot approve it; a case manager can.
        own = await api.call("akt-caseworker", "POST", f"{referral}/v1/referrals/{rid}/approve")
        assert own.status_code == 403, own.text
        await api.ok("akt-manager", "POST", f"{referral}/v1/referrals/{rid}/approve")

        async def sent() -> bool:
            got = await api.ok("akt-manager", "GET", f"{referral}/v1/referrals/{rid}")
            return got["state"] == "sent"

        await eventually(sent, "intake shared the package and the referral was sent")

        incoming = await api.ok(
            "osh-caseworker", "GET", f"{referral}/v1/referrals?direction=incoming&limit=200"
        )
        assert rid in {item["id"] for item in incoming["items"]}
        seen = await api.ok("osh-caseworker", "GET", f"{referral}/v1/referrals/{rid}")
        package = seen["package"]["data"]
        assert package is not None, "Osh cannot open the package sealed for it"
        person_fields = {k for k in package if k in PERSON}
        assert person_fields == set(SHARED), f"shared {sorted(person_fields)}, consented {SHARED}"
        assert "phone" not in package and "birth_date" not in package
        assert package["first_name"] == "Айгуль"
        assert seen["case_id"] is None, "the receiver must not learn the sender's case id"

        third = await api.call("nuk-caseworker", "GET", f"{referral}/v1/referrals/{rid}")
        assert third.status_code == 404, "a third NGO must see nothing of the referral"
        sender_view = await api.ok("akt-caseworker", "GET", f"{referral}/v1/referrals/{rid}")
        assert sender_view.get("package") is None

        await api.ok(
            "osh-caseworker",
            "POST",
            f"{referral}/v1/referrals/{rid}/accept",
            {"responsible_user": user_id("osh-caseworker")},
        )

        async def linked_case() -> dict[str, Any] | None:
            page = await api.ok("osh-caseworker", "GET", f"{intake}/v1/cases?limit=200")
            for item in page["items"]:
                full = await api.ok("osh-caseworker", "GET", f"{intake}/v1/cases/{item['id']}")
                if full["origin_referral_id"] == rid:
                    return full
            return None

        linked = await eventually(linked_case, "intake opened the linked case in Osh")
        assert linked["person"]["first_name"] == "Айгуль"
        assert linked["person"]["phone"] is None and linked["person"]["birth_date"] is None
        assert linked["number"].startswith("KG-OSH-")
        hidden = await api.call("akt-caseworker", "GET", f"{intake}/v1/cases/{linked['id']}")
        assert hidden.status_code == 404, "Aktobe must see nothing of Osh's linked case"

        await api.ok("osh-caseworker", "POST", f"{referral}/v1/referrals/{rid}/start")
        today = date.today()
        await api.ok(
            "akt-caseworker",
            "POST",
            f"{referral}/v1/referrals/{rid}/return",
            {
                "planned_date": (today + timedelta(days=2)).isoformat(),
                "route": "Aktobe - Almaty by train, Almaty - Osh by bus",
                "border_crossing": "Dostuk",
                "transport": "bus",
                "escort": "AKT social worker to the border",
                "documents": ["return certificate"],
                "met_by": "OSH caseworker at Dostuk",
            },
        )
        await api.ok(
            "osh-caseworker",
            "POST",
            f"{referral}/v1/referrals/{rid}/return/arrived",
            {"arrived_on": today.isoformat()},
        )
        done = await api.ok(
            "osh-caseworker",
            "POST",
            f"{referral}/v1/referrals/{rid}/complete",
            {"outcomes": {"return": "provided", "reintegration": "provided"}},
        )
        assert done["state"] == "completed"

        history = await api.call("akt-caseworker", "GET", f"{referral}/v1/referrals/{rid}/history")
        assert history.status_code == 200, history.text
        states = [step["to_state"] for step in history.json()]
        assert states == [
            "draft",
            "awaiting_approval",
            "approved",
            "sent",
            "accepted",
            "in_progress",
            "completed",
        ], states

    events = await referral_events(platform["nats"], Naming(platform["namespace"]), rid)
    expected = [
        "referral.submitted",
        "referral.approved",
        "referral.sent",
        "referral.accepted",
        "referral.in_progress",
        "return.planned",
        "return.arrived",
        "referral.completed",
    ]
    assert [e for e in events if e in expected] == expected, events


async def _created(api: Api, url: str, body: dict[str, Any]) -> dict[str, Any] | None:
    response = await api.call("akt-caseworker", "POST", url, body)
    if response.status_code == 422:  # the referral service has not consumed the agreement yet
        return None
    assert response.status_code == 201, response.text
    return dict(response.json())
