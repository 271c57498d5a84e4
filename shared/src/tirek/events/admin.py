"""Contracts published by ``admin``: ``tenant.*`` and ``agreement.*``.

Every service keeps its own copy of what it needs of a tenant (intake: the code and country
used in case numbers; referral: the directory; reporting: labels). Until the admin service
exists, ``make run`` publishes these for the demo consortium.
"""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import Field

from tirek.events.envelope import Contract
from tirek.events.registry import register

SOURCE = "admin"


@register
class TenantOnboarded(Contract):
    event_type = "tenant.onboarded"
    version = 1
    source = SOURCE
    #: A tenant event is about, and in the name of, that tenant.
    parties = ("tenant_id",)

    tenant_id: uuid.UUID
    code: str = Field(pattern=r"^[A-Z]{2,5}$", description="short code used in case numbers")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    region: str
    kind: str = Field("ngo", description="ngo | coordination")
    names: dict[str, str] = Field(description="display name per language code")
    languages: list[str] = Field(default_factory=list)
    services_offered: list[str] = Field(
        default_factory=list, description="referral service codes the NGO can receive"
    )
    service_areas: list[str] = Field(
        default_factory=list, description="cities/regions where it offers them"
    )
    contact_hours: str | None = Field(None, description="e.g. Mon-Fri 09:00-18:00 (UTC+5)")


@register
class TenantSuspended(Contract):
    event_type = "tenant.suspended"
    version = 1
    source = SOURCE
    #: A tenant event is about, and in the name of, that tenant.
    parties = ("tenant_id",)

    tenant_id: uuid.UUID


@register
class TenantReactivated(Contract):
    event_type = "tenant.reactivated"
    version = 1
    source = SOURCE
    #: A tenant event is about, and in the name of, that tenant.
    parties = ("tenant_id",)

    tenant_id: uuid.UUID


@register
class AgreementGranted(Contract):
    """Tenant ``from_tenant`` may refer cases to ``to_tenant`` for ``services``, in a period."""

    event_type = "agreement.granted"
    version = 1
    source = SOURCE

    agreement_id: uuid.UUID
    from_tenant: uuid.UUID
    to_tenant: uuid.UUID
    services: list[str] = Field(description="referral service codes; empty means all")
    valid_from: date
    valid_until: date | None = None


@register
class AgreementRevoked(Contract):
    event_type = "agreement.revoked"
    version = 1
    source = SOURCE

    agreement_id: uuid.UUID


@register
class TenantUpdated(Contract):
    """A tenant's directory details changed; carries the full new state (code and kind never
    change), so a consumer replaces its copy."""

    event_type = "tenant.updated"
    version = 1
    source = SOURCE
    #: A tenant event is about, and in the name of, that tenant.
    parties = ("tenant_id",)

    tenant_id: uuid.UUID
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    region: str
    names: dict[str, str] = Field(description="display name per language code")
    languages: list[str] = Field(default_factory=list)
    services_offered: list[str] = Field(default_factory=list)
    service_areas: list[str] = Field(default_factory=list)
    contact_hours: str | None = None


@register
class TenantOffboardingStarted(Contract):
    """The NGO is leaving the consortium: from now on its users may not act (as when
    suspended), except its tenant administrators, who may download each service's export of
    the NGO's data (``GET /v1/tenant-export``) until the offboarding is confirmed."""

    event_type = "tenant.offboarding_started"
    version = 1
    source = SOURCE

    tenant_id: uuid.UUID


@register
class TenantOffboarded(Contract):
    """The offboarding was confirmed: every service erases the NGO's rows (reporting keeps
    its de-identified counts under a neutral label). Final: no event revives the tenant."""

    event_type = "tenant.offboarded"
    version = 1
    source = SOURCE

    tenant_id: uuid.UUID
