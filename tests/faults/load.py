"""A steady load of registrations and referrals through the HTTP APIs, as careful clients send it.

Every request that changes something carries an ``Idempotency-Key``; when the client sees a
connection error, a timeout or a 5xx/409 answer it retries with the same key until it gets an
answer (2xx, or a 4xx it cannot cure). So "acknowledged" is countable: an operation is
acknowledged when the client holds a success answer, and the platform owes exactly one effect
for each acknowledged operation (and none beyond one for the others).

What the load does, per worker, until stopped:

- registration: ``POST /v1/cases`` in Aktobe, the case opened on the scenario's marker date
  (how the counters find the scenario's cases in every database, whatever the API answered);
- referral: an Aktobe case (opened on the marker date + 1 day), a referral consent for Osh,
  ``POST /v1/referrals``, submit, approve by the Aktobe manager; then (asynchronously: intake
  prepares the package, referral sends it) the Osh caseworker accepts once it arrived, and
  intake opens the linked case in Osh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from tirek.demo.consortium import USERS, tenant_by_code
from tirek.demo.seed import password_token

OSH = tenant_by_code("OSH").id
OSH_CASEWORKER = next(str(u.id) for u in USERS if u.username == "osh-caseworker")
#: What a referral shares with the receiver (and the consent covers).
FIELDS = ["first_name", "second_name", "categories"]
#: Statuses a careful client retries with the same key.
RETRYABLE = frozenset({409, 429, 500, 502, 503, 504})

_log = logging.getLogger("tests.faults.load")


class GaveUp(Exception):
    """An operation got no answer before its deadline (counted as sent, not acknowledged)."""


@dataclass
class Ledger:
    """What the clients sent and what the platform acknowledged: the left side of the table."""

    registrations_sent: int = 0
    #: case id of every acknowledged registration
    registrations: list[str] = field(default_factory=list)
    referrals_sent: int = 0
    #: referral id -> the sender's case id, for every referral whose approval was acknowledged
    referrals: dict[str, str] = field(default_factory=dict)
    accepts_sent: int = 0
    #: referral ids whose acceptance was acknowledged
    accepted: set[str] = field(default_factory=set)
    #: requests that had to be retried (connection errors, timeouts, 5xx, 409)
    retries: int = 0
    #: answers the retry got from a stored result (``Idempotent-Replayed``)
    replayed: int = 0
    gave_up: int = 0
    #: answers (or "no answer") that made a client retry, by status
    retried_on: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        causes = ", ".join(f"{cause} x{n}" for cause, n in sorted(self.retried_on.items()))
        return (
            f"client retries {self.retries}{f' ({causes})' if causes else ''}, answered from a "
            f"stored result {self.replayed}, gave up {self.gave_up}"
        )


class Client:
    """HTTP with Idempotency-Key retries and demo users' tokens.

    ``replicas`` lists several instances of a service: requests go to each in turn, as a load
    balancer sends them, and a retry goes to the next one."""

    def __init__(
        self,
        urls: dict[str, str],
        issuer: str,
        ledger: Ledger,
        replicas: dict[str, list[str]] | None = None,
    ) -> None:
        self._urls = {name: [url] for name, url in urls.items()} | (replicas or {})
        self._turn: Counter[str] = Counter()
        self._issuer = issuer
        self._ledger = ledger
        self._tokens: dict[str, str] = {}
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0))

    def _url(self, service: str) -> str:
        instances = self._urls[service]
        self._turn[service] += 1
        return instances[self._turn[service] % len(instances)]

    async def headers(self, user: str) -> dict[str, str]:
        if user not in self._tokens:
            self._tokens[user] = await password_token(self.http, self._issuer, user)
        return {"Authorization": f"Bearer {self._tokens[user]}"}

    async def post(
        self,
        service: str,
        path: str,
        user: str,
        body: dict[str, Any] | None = None,
        *,
        patience: float = 120.0,
        key: str | None = None,
    ) -> dict[str, Any]:
        """POST with one Idempotency-Key, retried until a final answer; the 2xx body."""
        headers = {**await self.headers(user), "Idempotency-Key": key or str(uuid.uuid4())}
        deadline = time.monotonic() + patience
        delay = 0.1
        while True:
            try:
                response = await self.http.post(
                    f"{self._url(service)}{path}", json=body, headers=headers
                )
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code < 300:
                if response.headers.get("Idempotent-Replayed") == "true":
                    self._ledger.replayed += 1
                return dict(response.json())
            if response is not None and response.status_code not in RETRYABLE:
                raise AssertionError(
                    f"{service} {path}: {response.status_code} {response.text[:300]}"
                )
            if time.monotonic() > deadline:
                raise GaveUp(f"{service} {path}")
            self._ledger.retries += 1
            self._ledger.retried_on[str(response.status_code) if response else "no answer"] += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def get(self, service: str, path: str, user: str) -> httpx.Response | None:
        try:
            return await self.http.get(
                f"{self._url(service)}{path}", headers=await self.headers(user)
            )
        except httpx.TransportError:
            return None

    async def aclose(self) -> None:
        await self.http.aclose()


def case_body(opened_on: date, rng: random.Random) -> dict[str, Any]:
    """A registration; invented names (the counters never read them)."""
    return {
        "person": {
            "first_name": rng.choice(["Айжан", "Нурлан", "Гульмира", "Бекзат", "Dilnoza"]),
            "second_name": rng.choice(["Касымова", "Абдыкадыров", "Тоқтарова", "Ergasheva"]),
            "sex": rng.choice(["female", "male"]),
            "estimated_age": rng.randint(18, 50),
            "citizenship": rng.choice(["KG", "UZ", "TJ"]),
        },
        "categories": ["presumed_victim_of_trafficking"],
        "exploitation_forms": ["labour"],
        "opened_on": opened_on.isoformat(),
    }


class Load:
    """Workers registering cases and running referrals until :meth:`stop`."""

    def __init__(
        self,
        urls: dict[str, str],
        issuer: str,
        *,
        marker: date,
        registration_workers: int = 2,
        referral_workers: int = 1,
        pause: float = 0.05,
        replicas: dict[str, list[str]] | None = None,
    ) -> None:
        self.ledger = Ledger()
        self.client = Client(urls, issuer, self.ledger, replicas)
        self.marker = marker
        self._rng = random.Random(marker.toordinal())
        self._workers = (registration_workers, referral_workers)
        self._pause = pause
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._acceptors: set[asyncio.Task[None]] = set()
        self.failures: list[str] = []

    @property
    def referral_marker(self) -> date:
        return self.marker + timedelta(days=1)

    async def start(self) -> None:
        for user in ("akt-caseworker", "akt-manager", "osh-caseworker"):
            await self.client.headers(user)
        registrations, referrals = self._workers
        self._tasks = [
            asyncio.create_task(self._loop(self.register_one)) for _ in range(registrations)
        ] + [asyncio.create_task(self._loop(self.refer_one)) for _ in range(referrals)]

    async def run_for(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def stop(self) -> None:
        """Stop starting operations; let every started one finish (retrying as needed)."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)

    async def finish(self, patience: float = 120.0) -> None:
        """Accept every approved referral once it has arrived (what the Osh caseworker would
        do after the fault), then close the client."""
        await asyncio.gather(*self._acceptors, return_exceptions=True)
        pending = [rid for rid in self.ledger.referrals if rid not in self.ledger.accepted]
        await asyncio.gather(*(self._accept_when_sent(rid, patience) for rid in pending))
        await self.client.aclose()

    async def _loop(self, operation: Any) -> None:
        while not self._stopping.is_set():
            try:
                await operation()
            except GaveUp as exc:
                self.ledger.gave_up += 1
                self.failures.append(f"gave up: {exc}")
            except AssertionError as exc:
                self.failures.append(str(exc))
            await asyncio.sleep(self._pause)

    async def register_one(self) -> str:
        self.ledger.registrations_sent += 1
        case = await self.client.post(
            "intake", "/v1/cases", "akt-caseworker", case_body(self.marker, self._rng)
        )
        self.ledger.registrations.append(case["id"])
        return str(case["id"])

    async def refer_one(self) -> None:
        self.ledger.referrals_sent += 1
        case = await self.client.post(
            "intake", "/v1/cases", "akt-caseworker", case_body(self.referral_marker, self._rng)
        )
        consent = await self.client.post(
            "intake",
            f"/v1/cases/{case['id']}/consents",
            "akt-caseworker",
            {
                "purpose": "referral",
                "scope": FIELDS,
                "recipient_tenant": str(OSH),
                "method": "written",
                "given_at": f"{self.referral_marker.isoformat()}T10:00:00+05:00",
            },
        )
        referral = await self.client.post(
            "referral",
            "/v1/referrals",
            "akt-caseworker",
            {
                "case_id": case["id"],
                "receiver_tenant": str(OSH),
                "services": ["return", "reintegration"],
                "urgency": "normal",
                "reason": "Return home after labour exploitation.",
                "consent_id": consent["id"],
                "fields": FIELDS,
            },
        )
        rid = referral["id"]
        await self.client.post("referral", f"/v1/referrals/{rid}/submit", "akt-caseworker")
        await self.client.post("referral", f"/v1/referrals/{rid}/approve", "akt-manager")
        self.ledger.referrals[rid] = case["id"]
        # The receiver answers later, as people do; the load goes on meanwhile.
        task = asyncio.create_task(self._accept_when_sent(rid, 60.0))
        self._acceptors.add(task)
        task.add_done_callback(self._acceptors.discard)

    async def _accept_when_sent(self, rid: str, patience: float) -> None:
        if rid in self.ledger.accepted:
            return
        deadline = time.monotonic() + patience
        while True:
            response = await self.client.get("referral", f"/v1/referrals/{rid}", "osh-caseworker")
            if response is not None and response.status_code == 200:
                state = response.json()["state"]
                if state == "sent":
                    break
                if state != "approved":
                    self.failures.append(f"referral {rid} went to {state}")
                    return
            if time.monotonic() > deadline:
                return  # counted below as an approved referral that never arrived (lost)
            await asyncio.sleep(0.3)
        self.ledger.accepts_sent += 1
        with contextlib.suppress(GaveUp):
            await self.client.post(
                "referral",
                f"/v1/referrals/{rid}/accept",
                "osh-caseworker",
                {"responsible_user": OSH_CASEWORKER},
            )
            self.ledger.accepted.add(rid)
