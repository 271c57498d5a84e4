"""Seed the demo consortium into a running platform, idempotently, through public interfaces.

Tenants arrive as ``tenant.onboarded`` events (what the admin service will publish), with
deterministic event ids so a second seed changes nothing. Cases, assistance, consents and
anonymous contacts are registered through intake's HTTP API with demo caseworkers' tokens,
only for an NGO that has no case yet. Every person here is invented.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import nats

from tirek.demo.consortium import DEMO_PASSWORD, TENANTS, DemoTenant
from tirek.events import Envelope
from tirek.events.admin import TenantOnboarded
from tirek.messaging.naming import Naming
from tirek.settings import nats_servers

_NS = uuid.UUID("0b0f3c3e-5d8e-4f57-9a3c-1f2e7c9d4a61")

# Invented people: (first name, family name, Latin spelling, sex, citizenship).
_PEOPLE: dict[str, list[tuple[str, str, str, str, str]]] = {
    "KG": [
        ("Айгуль", "Токтогулова", "Aigul Toktogulova", "female", "KG"),
        ("Бакыт", "Жумабеков", "Bakyt Zhumabekov", "male", "KG"),
        ("Нургуль", "Осмонова", "Nurgul Osmonova", "female", "KG"),
        ("Улан", "Сыдыков", "Ulan Sydykov", "male", "KG"),
    ],
    "UZ": [
        ("Dilfuza", "Rahimova", "Dilfuza Rahimova", "female", "UZ"),
        ("Шерзод", "Ўроқов", "Sherzod O'roqov", "male", "UZ"),
        ("Gulnora", "Qodirova", "Gulnora Qodirova", "female", "UZ"),
    ],
    "KZ": [
        ("Асель", "Нурмуханова", "Assel Nurmukhanova", "female", "KZ"),
        ("Ерлан", "Сапаров", "Yerlan Saparov", "male", "KZ"),
    ],
    "TJ": [
        ("Тахир", "Сабиров", "Takhir Sabirov", "male", "TJ"),
        ("Зарина", "Давлатова", "Zarina Davlatova", "female", "TJ"),
    ],
}
_CATEGORIES = [
    (["labour_migrant", "vulnerable_migrant"], []),
    (["presumed_victim_of_trafficking"], ["labour"]),
    (["identified_victim_of_trafficking"], ["labour", "domestic_servitude"]),
    (["presumed_victim_of_trafficking"], ["sexual"]),
    (["deportee"], []),
    (["labour_migrant"], []),
]
_ASSISTANCE = [
    ("hotline_consultation", "hotline"),
    ("legal_consultation", "office"),
    ("legal_consultation", "mobile_outreach"),
    ("legal_aid", "office"),
    ("social_aid", "office"),
    ("psychological_support", "office"),
    ("humanitarian_aid", "mobile_outreach"),
    ("document_restoration", "office"),
    ("voluntary_return", "office"),
    ("reintegration_support", "office"),
]
_TOPICS = [
    "safe_migration",
    "employment_abroad",
    "documents_and_registration",
    "labour_rights",
    "possible_trafficking",
    "return_home",
]
_PROJECTS = ["IOM-CA-SAFE", "USAID-SM-2026", "MFA-RETURN"]


def tenant_event(tenant: DemoTenant) -> Envelope:
    payload = TenantOnboarded(
        tenant_id=tenant.id,
        code=tenant.code,
        country=tenant.country,
        region=tenant.region,
        kind=tenant.kind,
        names=tenant.name,
        languages=list(tenant.languages),
        services_offered=list(tenant.services_offered),
        service_areas=list(tenant.service_areas),
        contact_hours=tenant.contact_hours,
    )
    return Envelope.wrap(
        payload,
        tenant=tenant.id,
        subject=tenant.id,
        # Same definition, same id (re-seeding changes nothing); a changed definition of a
        # demo NGO is a new event that every service applies.
        event_id=uuid.uuid5(_NS, f"tenant.onboarded:{payload.model_dump_json()}"),
        time=datetime(2026, 1, 1, tzinfo=UTC),
    )


async def publish_tenants(nats_url: str, naming: Naming) -> None:
    """Publish ``tenant.onboarded`` for every demo tenant (deterministic ids: idempotent)."""
    nc = await nats.connect(nats_servers(nats_url))
    try:
        js = nc.jetstream()
        for tenant in TENANTS:
            envelope = tenant_event(tenant)
            await js.publish(
                naming.subject(envelope.subject_name),
                envelope.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(envelope.id)},
            )
    finally:
        await nc.close()


async def password_token(client: httpx.AsyncClient, issuer: str, username: str) -> str:
    response = await client.post(
        f"{issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "tirek-web",
            "username": username,
            "password": DEMO_PASSWORD,
            "scope": "openid",
        },
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def _case_body(rng: random.Random, tenant: DemoTenant, today: date) -> dict[str, Any]:
    pool = (
        _PEOPLE["KG"] + _PEOPLE["UZ"] + _PEOPLE["TJ"]
        if tenant.country == "KZ"
        else (
            _PEOPLE["KG"] + _PEOPLE["KZ"]
            if tenant.country != "KG"
            else _PEOPLE["KG"] + _PEOPLE["UZ"]
        )
    )
    first, family, latin, sex, citizenship = rng.choice(pool)
    categories, forms = rng.choice(_CATEGORIES)
    opened = today - timedelta(days=rng.randint(5, 360))
    age = rng.randint(16, 55)
    return {
        "person": {
            "first_name": first,
            "second_name": family,
            "name_latin": latin,
            "sex": sex,
            "birth_date": (opened - timedelta(days=age * 365 + rng.randint(0, 300))).isoformat()
            if rng.random() < 0.7
            else None,
            "estimated_age": age,
            "citizenship": citizenship,
            "languages": ["ru"],
            "documents": [
                {
                    "type": "passport",
                    "status": rng.choice(["held", "lost", "confiscated", "expired"]),
                }
            ],
        },
        "categories": categories,
        "exploitation_forms": forms,
        "trm_stage": rng.choice(
            [
                "identification",
                "first_assistance_and_protection",
                "long_term_assistance_and_social_inclusion",
            ]
        ),
        "risk_level": rng.choice(["low", "medium", "high"]),
        "opened_on": opened.isoformat(),
    }


async def _register_with_retry(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    patience: float = 60.0,
) -> dict[str, Any]:
    """Register a case, waiting while intake has not yet consumed the tenant's onboarding."""
    deadline = time.monotonic() + patience
    while True:
        response = await client.post(url, json=body, headers=headers)
        if response.status_code != 409 or time.monotonic() > deadline:
            response.raise_for_status()
            return dict(response.json())
        await asyncio.sleep(0.3)


async def seed_intake(
    intake_url: str, issuer: str, *, cases_per_ngo: int = 8, today: date | None = None
) -> int:
    """Register demo cases, assistance, consents and contacts for NGOs that have none yet."""
    today = today or date.today()
    created = 0
    async with httpx.AsyncClient(timeout=30) as client:
        for tenant in TENANTS:
            if tenant.kind != "ngo":
                continue
            rng = random.Random(tenant.code)
            token = await password_token(client, issuer, f"{tenant.alias}-caseworker")
            headers = {"Authorization": f"Bearer {token}"}
            existing = await client.get(
                f"{intake_url}/v1/cases", params={"limit": 1}, headers=headers
            )
            if existing.status_code == 200 and existing.json()["items"]:
                continue
            for _ in range(cases_per_ngo):
                body = _case_body(rng, tenant, today)
                case = await _register_with_retry(client, f"{intake_url}/v1/cases", body, headers)
                created += 1
                opened = date.fromisoformat(case["opened_on"])
                for _ in range(rng.randint(1, 4)):
                    kind, mode = rng.choice(_ASSISTANCE)
                    provided = opened + timedelta(
                        days=rng.randint(0, max(0, (today - opened).days))
                    )
                    response = await client.post(
                        f"{intake_url}/v1/cases/{case['id']}/assistance",
                        headers=headers,
                        json={
                            "type": kind,
                            "mode": mode,
                            "provided_on": provided.isoformat(),
                            "project_code": rng.choice(_PROJECTS),
                        },
                    )
                    response.raise_for_status()
                response = await client.post(
                    f"{intake_url}/v1/cases/{case['id']}/consents",
                    headers=headers,
                    json={
                        "purpose": "registration",
                        "scope": ["first_name", "second_name", "sex", "citizenship"],
                        "method": "written",
                        "given_at": datetime.combine(opened, datetime.min.time(), UTC).isoformat(),
                    },
                )
                response.raise_for_status()
            for _ in range(6):
                response = await client.post(
                    f"{intake_url}/v1/contacts",
                    headers=headers,
                    json={
                        "received_on": (today - timedelta(days=rng.randint(0, 360))).isoformat(),
                        "topic": rng.choice(_TOPICS),
                        "country": rng.choice(["RU", "KZ", "TR", "KR"]),
                        "sex": rng.choice(["male", "female", "unknown"]),
                        "project_code": rng.choice(_PROJECTS),
                    },
                )
                response.raise_for_status()
    return created
