"""Who is in the demo consortium. Data only; no service reads it in production."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

_NS = uuid.UUID("6f1c2b8e-7a43-4d0e-9a55-3f1d2c7b9e10")

#: The one password of every demo user (development issuer only; production refuses it).
DEMO_PASSWORD = "demo"


@dataclass(frozen=True)
class DemoTenant:
    code: str  # short code used in case numbers: KZ-AKT-2026-000123
    country: str  # ISO 3166-1 alpha-2
    region: str
    name: dict[str, str]
    languages: tuple[str, ...]
    #: The consortium's coordinating body is a tenant too, but owns no cases.
    kind: str = "ngo"
    #: Referral services it can receive, where, and when it answers (the partner directory).
    services_offered: tuple[str, ...] = ()
    service_areas: tuple[str, ...] = ()
    contact_hours: str | None = None

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(_NS, f"tenant:{self.code}")

    @property
    def alias(self) -> str:
        return self.code.lower()


@dataclass(frozen=True)
class DemoUser:
    username: str
    tenant_code: str
    roles: tuple[str, ...]
    language: str
    first_name: str
    last_name: str
    email: str = field(default="")

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(_NS, f"user:{self.username}")


TENANTS: tuple[DemoTenant, ...] = (
    DemoTenant(
        "AKT",
        "KZ",
        "Aktobe",
        {"ru": "Сана Сезім (Актобе)", "en": "Sana Sezim (Aktobe)"},
        ("ru", "kk"),
        services_offered=("reception", "legal_aid", "documents", "shelter", "return"),
        service_areas=("Aktobe", "Aktobe region"),
        contact_hours="Mon-Fri 09:00-18:00 (UTC+5)",
    ),
    DemoTenant(
        "TLD",
        "KZ",
        "Taldykorgan",
        {"ru": "Ансар (Талдыкорган)", "en": "Ansar (Taldykorgan)"},
        ("ru", "kk"),
        services_offered=("reception", "legal_aid", "documents", "psychological_care"),
        service_areas=("Taldykorgan", "Almaty region"),
        contact_hours="Mon-Fri 09:00-18:00 (UTC+5)",
    ),
    DemoTenant(
        "OSH",
        "KG",
        "Osh",
        {"ru": "Мекен (Ош)", "en": "Meken (Osh)"},
        ("ru", "ky", "uz"),
        services_offered=(
            "reception",
            "reintegration",
            "shelter",
            "family_tracing",
            "medical_care",
            "psychological_care",
        ),
        service_areas=("Osh", "Osh region"),
        contact_hours="Mon-Sat 09:00-18:00 (UTC+6)",
    ),
    DemoTenant(
        "JAL",
        "KG",
        "Jalal-Abad",
        {"ru": "Ынтымак (Джалал-Абад)", "en": "Yntymak (Jalal-Abad)"},
        ("ru", "ky"),
        services_offered=("reception", "reintegration", "legal_aid", "family_tracing"),
        service_areas=("Jalal-Abad", "Jalal-Abad region"),
        contact_hours="Mon-Fri 09:00-17:00 (UTC+6)",
    ),
    DemoTenant(
        "NUK",
        "UZ",
        "Karakalpakstan",
        {"ru": "Истикбол (Нукус)", "en": "Istiqbol (Nukus)"},
        ("ru", "uz", "kaa"),
        services_offered=(
            "reception",
            "reintegration",
            "documents",
            "legal_aid",
            "psychological_care",
        ),
        service_areas=("Nukus", "Karakalpakstan"),
        contact_hours="Mon-Fri 09:00-18:00 (UTC+5)",
    ),
    DemoTenant(
        "CRD",
        "KZ",
        "Almaty",
        {"ru": "Координация консорциума", "en": "Consortium coordination"},
        ("ru", "en"),
        kind="coordination",
    ),
)


def tenant_by_code(code: str) -> DemoTenant:
    for tenant in TENANTS:
        if tenant.code == code:
            return tenant
    raise KeyError(code)


_STAFF = {
    "AKT": ("kk", [("Aigerim", "Sadykova"), ("Nurlan", "Bekov"), ("Dana", "Omarova")]),
    "TLD": ("ru", [("Irina", "Kim"), ("Erlan", "Tulegenov"), ("Saule", "Zhakupova")]),
    "OSH": ("ky", [("Aibek", "Toktosunov"), ("Gulnara", "Mamatova"), ("Bakyt", "Asanov")]),
    "JAL": ("ky", [("Cholpon", "Abdyldaeva"), ("Marat", "Isakov"), ("Nazgul", "Kadyrova")]),
    "NUK": ("uz", [("Dilnoza", "Yusupova"), ("Rustam", "Karimov"), ("Aziza", "Nazarova")]),
}


def _users() -> tuple[DemoUser, ...]:
    users: list[DemoUser] = []
    for code, (language, names) in _STAFF.items():
        low = code.lower()
        for (first, last), (suffix, roles) in zip(
            names,
            [
                ("caseworker", ("caseworker",)),
                ("manager", ("case_manager",)),
                ("admin", ("tenant_admin",)),
            ],
            strict=True,
        ):
            users.append(
                DemoUser(
                    f"{low}-{suffix}",
                    code,
                    roles,
                    language,
                    first,
                    last,
                    f"{low}-{suffix}@demo.tirek.local",
                )
            )
    users.append(
        DemoUser(
            "coordinator",
            "CRD",
            ("coordinator",),
            "en",
            "Aliya",
            "Seitova",
            "coordinator@demo.tirek.local",
        )
    )
    users.append(
        DemoUser(
            "platform-admin",
            "CRD",
            ("platform_admin",),
            "en",
            "Timur",
            "Akhmetov",
            "platform@demo.tirek.local",
        )
    )
    return tuple(users)


USERS: tuple[DemoUser, ...] = _users()
