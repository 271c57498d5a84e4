"""Seed the demo consortium's sharing agreements and a few referrals, idempotently.

Agreements arrive as ``agreement.granted`` events (what the admin service will publish), with
deterministic event and agreement ids: every Kazakh NGO and every Kyrgyz or Uzbek NGO may
refer to each other, for every service. Referrals are made through the HTTP APIs of intake
(a referral consent on an existing demo case) and referral, with demo users' tokens, and
only when AKT's caseworker sees no outgoing referral yet.

The referrals, and how far each goes:

- AKT → OSH (return, reintegration): approved, sent, accepted, in progress, return planned
  and arrived, completed — the completed return Aktobe → Osh;
- TLD → NUK (reception, legal aid): approved and sent, then left unanswered (pending);
- TLD → JAL (shelter): sent, then declined for lack of capacity;
- AKT → JAL (legal aid, documents): submitted, awaiting a case manager's approval.

Sending needs intake's side of the saga (``referral.approved`` → ``share.prepared``). When
intake does not answer within ``share_patience`` seconds, the referrals that need it stay
``approved`` (a warning is printed per referral) and the steps after sending are skipped;
running the seed again later does not resume them (AKT already has outgoing referrals).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import nats

from tirek.demo.consortium import TENANTS, USERS, tenant_by_code
from tirek.demo.seed import password_token
from tirek.events import Envelope
from tirek.events.admin import AgreementGranted
from tirek.messaging.naming import Naming
from tirek.settings import nats_servers

_NS = uuid.UUID("9d3c7a52-4f1e-4b8a-8c6d-2e5f7a1b3c90")
_SHARED_FIELDS = ["first_name", "second_name", "sex", "citizenship", "documents"]


def agreement_id(from_code: str, to_code: str) -> uuid.UUID:
    """The deterministic id of the demo agreement ``from_code`` → ``to_code``."""
    return uuid.uuid5(_NS, f"agreement:{from_code}:{to_code}")


def agreement_events() -> list[Envelope]:
    """``agreement.granted`` for every KZ NGO ↔ every KG/UZ NGO, both ways, all services."""
    ngos = [t for t in TENANTS if t.kind == "ngo"]
    kazakh = [t for t in ngos if t.country == "KZ"]
    neighbours = [t for t in ngos if t.country in ("KG", "UZ")]
    pairs = [(a, b) for a in kazakh for b in neighbours] + [
        (b, a) for a in kazakh for b in neighbours
    ]
    platform = tenant_by_code("CRD")
    return [
        Envelope.wrap(
            AgreementGranted(
                agreement_id=agreement_id(source.code, target.code),
                from_tenant=source.id,
                to_tenant=target.id,
                services=[],
                valid_from=date(2026, 1, 1),
            ),
            tenant=platform.id,
            subject=agreement_id(source.code, target.code),
            event_id=uuid.uuid5(_NS, f"agreement.granted:{source.code}:{target.code}"),
            time=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for source, target in pairs
    ]


async def publish_agreements(nats_url: str, naming: Naming) -> None:
    """Publish the demo agreements (deterministic ids: publishing twice changes nothing)."""
    nc = await nats.connect(nats_servers(nats_url))
    try:
        js = nc.jetstream()
        for envelope in agreement_events():
            await js.publish(
                naming.subject(envelope.subject_name),
                envelope.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(envelope.id)},
            )
    finally:
        await nc.close()


def _user_id(username: str) -> str:
    return next(str(u.id) for u in USERS if u.username == username)


class _Demo:
    def __init__(
        self, client: httpx.AsyncClient, referral_url: str, intake_url: str, issuer: str
    ) -> None:
        self.client = client
        self.referral_url = referral_url
        self.intake_url = intake_url
        self.issuer = issuer
        self._tokens: dict[str, str] = {}

    async def headers(self, username: str) -> dict[str, str]:
        if username not in self._tokens:
            self._tokens[username] = await password_token(self.client, self.issuer, username)
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    async def call(
        self, user: str, method: str, url: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.client.request(
            method, url, headers=await self.headers(user), json=body
        )
        response.raise_for_status()
        return dict(response.json())

    async def referral(
        self, user: str, referral_id: str, action: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self.call(
            user, "POST", f"{self.referral_url}/v1/referrals/{referral_id}/{action}", body
        )

    async def draft(
        self, code: str, receiver: str, services: list[str], urgency: str, reason: str
    ) -> dict[str, Any]:
        """A referral consent on the NGO's oldest demo case, and a submitted referral."""
        user = f"{code.lower()}-caseworker"
        receiver_id = str(tenant_by_code(receiver).id)
        cases = await self.call(user, "GET", f"{self.intake_url}/v1/cases?limit=50")
        if not cases["items"]:
            raise RuntimeError(f"{code} has no demo case to refer (seed intake first)")
        # A different case per receiver, so that each referral has its own case.
        case = cases["items"][sum(map(ord, receiver)) % len(cases["items"])]
        consent = await self.call(
            user,
            "POST",
            f"{self.intake_url}/v1/cases/{case['id']}/consents",
            {
                "purpose": "referral",
                "scope": _SHARED_FIELDS,
                "method": "written",
                "recipient_tenant": receiver_id,
                "given_at": datetime.now(UTC).isoformat(),
            },
        )
        body = {
            "case_id": case["id"],
            "receiver_tenant": receiver_id,
            "services": services,
            "urgency": urgency,
            "reason": reason,
            "consent_id": consent["id"],
            "fields": _SHARED_FIELDS,
        }
        # The referral service may not have consumed the demo agreements yet.
        deadline = time.monotonic() + 60
        while True:
            response = await self.client.post(
                f"{self.referral_url}/v1/referrals", json=body, headers=await self.headers(user)
            )
            if response.status_code != 422 or time.monotonic() > deadline:
                response.raise_for_status()
                break
            await asyncio.sleep(0.5)
        referral = dict(response.json())
        await self.referral(user, referral["id"], "submit")
        return referral

    async def approve_and_wait_sent(self, code: str, referral_id: str, patience: float) -> bool:
        """Approve, then wait for intake's share package; ``False`` if it never came."""
        manager = f"{code.lower()}-manager"
        await self.referral(manager, referral_id, "approve")
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            state = (
                await self.call(manager, "GET", f"{self.referral_url}/v1/referrals/{referral_id}")
            )["state"]
            if state != "approved":
                return bool(state == "sent")
            await asyncio.sleep(0.5)
        print(f"seed: referral {referral_id} stays approved (intake sent no share package)")
        return False


async def seed_referrals(
    referral_url: str, intake_url: str, issuer: str, *, share_patience: float = 30.0
) -> int:
    """Create the demo referrals (see the module docstring); returns how many were created.

    Skips everything when AKT's caseworker already sees outgoing referrals. Needs intake's
    demo cases (:func:`tirek.demo.seed.seed_intake`) and the demo agreements
    (:func:`publish_agreements`).
    """
    async with httpx.AsyncClient(timeout=30) as client:
        demo = _Demo(client, referral_url, intake_url, issuer)
        existing = await demo.call(
            "akt-caseworker", "GET", f"{referral_url}/v1/referrals?direction=outgoing&limit=1"
        )
        if existing["items"]:
            return 0
        today = datetime.now(UTC).date()

        completed = await demo.draft(
            "AKT",
            "OSH",
            ["return", "reintegration"],
            "urgent",
            "Returning home to Osh after labour exploitation; needs reception and reintegration.",
        )
        if await demo.approve_and_wait_sent("AKT", completed["id"], share_patience):
            rid = completed["id"]
            await demo.referral(
                "osh-caseworker", rid, "accept", {"responsible_user": _user_id("osh-caseworker")}
            )
            await demo.referral("osh-caseworker", rid, "start")
            await demo.referral(
                "akt-caseworker",
                rid,
                "return",
                {
                    "planned_date": (today - timedelta(days=6)).isoformat(),
                    "route": "Aktobe - Almaty by train, Almaty - Osh by bus",
                    "border_crossing": "Dostuk",
                    "transport": "bus",
                    "escort": "AKT social worker to the border",
                    "documents": ["return certificate"],
                    "met_by": "OSH caseworker at the Dostuk crossing",
                },
            )
            await demo.referral(
                "osh-caseworker",
                rid,
                "return/arrived",
                {"arrived_on": (today - timedelta(days=5)).isoformat()},
            )
            await demo.referral(
                "osh-caseworker",
                rid,
                "complete",
                {"outcomes": {"return": "provided", "reintegration": "partially_provided"}},
            )

        pending = await demo.draft(
            "TLD",
            "NUK",
            ["reception", "legal_aid"],
            "normal",
            "Deported; needs reception in Nukus and help with documents.",
        )
        await demo.approve_and_wait_sent("TLD", pending["id"], share_patience)

        declined = await demo.draft(
            "TLD", "JAL", ["shelter"], "normal", "Needs a safe place on return to Jalal-Abad."
        )
        if await demo.approve_and_wait_sent("TLD", declined["id"], share_patience):
            await demo.referral(
                "jal-caseworker",
                declined["id"],
                "decline",
                {"reason": "no_capacity", "note": "Our shelter is full this month."},
            )

        await demo.draft(
            "AKT",
            "JAL",
            ["legal_aid", "documents"],
            "normal",
            "Lost passport; needs legal aid to restore documents at home.",
        )
        return 4
