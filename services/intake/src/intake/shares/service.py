"""The intake side of the cross-border referral saga.

- :func:`prepare` (on ``referral.approved``, in the SENDER's tenant): check the case and the
  consent, build the package of exactly the requested fields, seal it for its trip to the
  receiver (:func:`tirek.crypto.seal`, under the master key), keep a copy encrypted at rest
  under the sender's data key, record the copy (:class:`SharedCopy`, ids only) and publish
  ``share.prepared`` — or publish ``share.refused`` with a reason.
- :func:`open_package` + :func:`open_linked_case` (on ``referral.accepted``): read the kept
  copy in the sender's tenant, open it, and register a linked case in the RECEIVER's tenant
  holding exactly the shared fields; the two cases know each other only by the referral id.
- :func:`forget_packages_of_consent`: a withdrawn consent deletes the copies shared under it.

Sealing decision (issue 7): the package travels sealed under the master key, bound to the
receiving tenant and the referral id; each service that keeps it re-encrypts it at rest under
a per-tenant data key of its own database at once (intake: the sender's; referral: the
receiver's). A stolen database names nobody without the master key, and a retired master key
leaves nothing at rest unreadable (only messages still in the stream, which are not replayed).

Rules that decide (consent checks, package content, the case made of a package) are pure
functions here; the use cases run inside the caller's unit of work and write their events to
the outbox in that same transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake.assistance.models import AssistanceRecord
from intake.cases import registration
from intake.cases.models import Case
from intake.cases.schemas import CaseIn
from intake.consents.models import Consent
from intake.consents.schemas import ShareableField
from intake.privacy.reveal import reveal, reveal_case
from intake.shares.models import SharedCopy, SharePackage
from tirek.auth import Principal, Role
from tirek.crypto import Keyring, SealError, TenantKeys, open_sealed, seal, seal_record
from tirek.events import Envelope, ForgedTenant
from tirek.events.intake import (
    CaseCategory,
    ConsentPurpose,
    SharePrepared,
    ShareRefused,
    TrmStage,
)
from tirek.events.referral import ReferralAccepted, ReferralApproved, ReferralService
from tirek.messaging.outbox import add_to_outbox

#: ``tirek.crypto`` purpose of a share package; the referral service opens with the same.
SEAL_PURPOSE: Final = "share"

#: Person fields a package can carry, by their ShareableField name (= the Person column).
PERSON_FIELDS: Final = frozenset(
    {
        ShareableField.FIRST_NAME,
        ShareableField.SECOND_NAME,
        ShareableField.PATRONYMIC,
        ShareableField.NAME_LATIN,
        ShareableField.SEX,
        ShareableField.BIRTH_DATE,
        ShareableField.CITIZENSHIP,
        ShareableField.LANGUAGES,
        ShareableField.PHONE,
        ShareableField.CURRENT_LOCATION,
        ShareableField.DOCUMENTS,
    }
)
CASE_FIELDS: Final = frozenset(
    {ShareableField.CATEGORIES, ShareableField.EXPLOITATION_FORMS, ShareableField.RISK_LEVEL}
)

#: The category a linked case gets when the sender did not share the categories: the broadest
#: one; the receiver's caseworker refines it.
DEFAULT_CATEGORY: Final = CaseCategory.VULNERABLE_MIGRANT


class RefusalReason(StrEnum):
    """Why intake refused to share (the ``reason`` of ``share.refused``)."""

    CASE_NOT_FOUND = "case_not_found"
    CONSENT_NOT_FOUND = "consent_not_found"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_EXPIRED = "consent_expired"
    CONSENT_PURPOSE = "consent_purpose"
    CONSENT_RECIPIENT = "consent_recipient"
    CONSENT_SCOPE = "consent_scope"
    PERSON_ERASED = "person_erased"


class ReceiverNotOnboarded(RuntimeError):
    """The receiving NGO is not (yet) in intake's tenant directory, or is suspended.

    Raised, not swallowed: the handler fails, the message is redelivered with backoff (the
    ``tenant.onboarded`` event may simply not have arrived yet) and, if it never does,
    dead-lettered for the platform administrator to replay.
    """


class PackageDoesNotOpen(RuntimeError):
    """The stored package does not open for the receiver (wrong key or tampered)."""


# ----------------------------------------------------------------------------- pure rules


def refusal(
    consent: Consent | None,
    *,
    receiver_tenant: uuid.UUID,
    fields: Collection[str],
    today: date,
) -> RefusalReason | None:
    """Why ``consent`` does not allow sharing ``fields`` with ``receiver_tenant`` (or None)."""
    if consent is None:
        return RefusalReason.CONSENT_NOT_FOUND
    if consent.withdrawn_at is not None:
        return RefusalReason.CONSENT_WITHDRAWN
    if consent.valid_until is not None and consent.valid_until < today:
        return RefusalReason.CONSENT_EXPIRED
    if consent.purpose != ConsentPurpose.REFERRAL.value:
        return RefusalReason.CONSENT_PURPOSE
    if consent.recipient_tenant != receiver_tenant:
        return RefusalReason.CONSENT_RECIPIENT
    # A field the consent does not name (including a name intake does not know) is not covered.
    if not set(fields) <= set(consent.scope):
        return RefusalReason.CONSENT_SCOPE
    return None


def build_package(
    case: Case,
    assistance: list[AssistanceRecord],
    *,
    fields: Collection[str],
    sender_tenant: uuid.UUID,
) -> dict[str, Any]:
    """The package: exactly the requested fields (JSON values), the case number and sender."""
    package: dict[str, Any] = {"case_number": case.number, "sender_tenant": str(sender_tenant)}
    person = case.person
    for name in fields:
        field = ShareableField(name)
        if field in PERSON_FIELDS:
            value = getattr(person, field.value)
            package[field.value] = value.isoformat() if isinstance(value, date) else value
        elif field in CASE_FIELDS:
            package[field.value] = getattr(case, field.value)
        elif field is ShareableField.ASSISTANCE_HISTORY:
            package[field.value] = [
                {
                    "type": record.type,
                    "mode": record.mode,
                    "provided_on": record.provided_on.isoformat(),
                    "outcome": record.outcome,
                }
                for record in assistance
            ]
    return package


def linked_case_input(package: dict[str, Any], *, services: Collection[str]) -> CaseIn:
    """The receiver's new case made of a package: the shared person and case fields only.

    Not shared: sex is ``unknown``, categories fall back to :data:`DEFAULT_CATEGORY`, the rest
    stays empty or at its default. ``assistance_history`` is not turned into the receiver's
    assistance records (they would count another NGO's work as the receiver's); it stays
    readable in the referral's package.
    """
    person = {field.value: package[field.value] for field in PERSON_FIELDS if field in package}
    person.setdefault(ShareableField.SEX.value, "unknown")
    data: dict[str, Any] = {
        "person": person,
        "categories": package.get(ShareableField.CATEGORIES.value) or [DEFAULT_CATEGORY],
        # A return is the reason most referrals cross a border: the TRM stage it starts in.
        "trm_stage": (
            TrmStage.RETURN_AND_SOCIAL_INCLUSION
            if ReferralService.RETURN.value in services
            else TrmStage.FIRST_ASSISTANCE_AND_PROTECTION
        ),
    }
    for field in (ShareableField.EXPLOITATION_FORMS, ShareableField.RISK_LEVEL):
        if field.value in package:
            data[field.value] = package[field.value]
    return CaseIn.model_validate(data)


# ----------------------------------------------------------------------------- use cases


async def prepare(
    *,
    session: AsyncSession,
    keyring: Keyring,
    approved: ReferralApproved,
    today: date,
    now: datetime,
) -> RefusalReason | None:
    """Prepare the share package of an approved referral in the sender's tenant.

    The session's tenant must be ``approved.sender_tenant``. Publishes ``share.prepared`` (and
    keeps the sealed copy) or ``share.refused``; returns the refusal reason, if any.
    """
    case = await session.scalar(select(Case).where(Case.id == approved.case_id))
    consent: Consent | None = None
    if case is not None:
        consent = await session.scalar(
            select(Consent).where(Consent.id == approved.consent_id, Consent.case_id == case.id)
        )
    reason = (
        RefusalReason.CASE_NOT_FOUND
        if case is None
        else refusal(
            consent,
            receiver_tenant=approved.receiver_tenant,
            fields=approved.fields,
            today=today,
        )
    )
    if reason is not None or case is None or consent is None:
        await add_to_outbox(
            session,
            Envelope.wrap(
                ShareRefused(
                    referral_id=approved.referral_id,
                    case_id=approved.case_id,
                    reason=(reason or RefusalReason.CASE_NOT_FOUND).value,
                ),
                tenant=approved.sender_tenant,
                subject=approved.referral_id,
            ),
        )
        return reason
    if case.person.erased_at is not None:
        # Nothing personal is left to share (the consent scope check passed on field names).
        reason = RefusalReason.PERSON_ERASED
        await add_to_outbox(
            session,
            Envelope.wrap(
                ShareRefused(
                    referral_id=approved.referral_id, case_id=case.id, reason=reason.value
                ),
                tenant=approved.sender_tenant,
                subject=approved.referral_id,
            ),
        )
        return reason
    await reveal_case(keyring, case)
    fields = list(dict.fromkeys(approved.fields))  # requested order, without repeats
    assistance: list[AssistanceRecord] = []
    if ShareableField.ASSISTANCE_HISTORY.value in fields:
        assistance = list(
            await session.scalars(
                select(AssistanceRecord)
                .where(AssistanceRecord.case_id == case.id)
                .order_by(AssistanceRecord.provided_on, AssistanceRecord.created_at)
            )
        )
    package = build_package(case, assistance, fields=fields, sender_tenant=approved.sender_tenant)
    sealed = seal(
        keyring.provider,
        tenant=approved.receiver_tenant,
        purpose=SEAL_PURPOSE,
        plaintext=json.dumps(package, ensure_ascii=False).encode(),
        context=approved.referral_id.bytes,
    )
    await _keep_copy(
        session,
        await keyring.keys(approved.sender_tenant),
        approved=approved,
        case=case,
        consent=consent,
        fields=fields,
        package=package,
        now=now,
    )
    await add_to_outbox(
        session,
        Envelope.wrap(
            SharePrepared(
                referral_id=approved.referral_id,
                case_id=case.id,
                receiver_tenant=approved.receiver_tenant,
                consent_id=consent.id,
                fields=fields,
                sealed=sealed,
            ),
            tenant=approved.sender_tenant,
            subject=approved.referral_id,
        ),
    )
    return None


async def _keep_copy(
    session: AsyncSession,
    keys: TenantKeys,
    *,
    approved: ReferralApproved,
    case: Case,
    consent: Consent,
    fields: list[str],
    package: dict[str, Any],
    now: datetime,
) -> None:
    """Keep the sender's copy of the package (encrypted at rest) and the record of the share."""
    existing = await session.scalar(
        select(SharePackage).where(SharePackage.referral_id == approved.referral_id)
    )
    if existing is not None:
        # A referral approved again (say after it was blocked) replaces its earlier package.
        await session.delete(existing)
        await session.flush()
    row = SharePackage(
        id=uuid.uuid4(),
        tenant_id=approved.sender_tenant,
        referral_id=approved.referral_id,
        case_id=case.id,
        receiver_tenant=approved.receiver_tenant,
        consent_id=consent.id,
        fields=fields,
        package=package,
    )
    seal_record(row, keys)
    session.add(row)
    copy = {
        "tenant_id": approved.sender_tenant,
        "referral_id": approved.referral_id,
        "case_id": case.id,
        "person_id": case.person_id,
        "receiver_tenant": approved.receiver_tenant,
        "fields": fields,
        "shared_at": now,
    }
    statement = insert(SharedCopy).values(**copy)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[SharedCopy.referral_id],
            set_={"fields": statement.excluded.fields, "shared_at": statement.excluded.shared_at},
        )
    )


async def open_package(
    *,
    session: AsyncSession,
    keyring: Keyring,
    referral_id: uuid.UUID,
    receiver_tenant: uuid.UUID,
) -> dict[str, Any] | None:
    """The opened package of a referral, read in the sender's tenant; None if there is none
    (never prepared, refused, or purged after the consent was withdrawn or the erasure).

    Raises :class:`~tirek.events.ForgedTenant` when the package was prepared for another
    receiver than ``receiver_tenant``: an acceptance naming another NGO must never open it.
    """
    package = await session.scalar(
        select(SharePackage).where(SharePackage.referral_id == referral_id)
    )
    if package is None:
        return None
    if package.receiver_tenant != receiver_tenant:
        raise ForgedTenant("the package of this referral was prepared for another receiver")
    if package.key_version is None:
        return open_legacy_package(keyring, package)
    await reveal(keyring, [package])
    opened: dict[str, Any] = package.package
    return opened


def open_legacy_package(keyring: Keyring, package: SharePackage) -> dict[str, Any]:
    """A copy kept before encryption at rest: still the package as sealed for its trip."""
    try:
        plaintext = open_sealed(
            keyring.provider,
            tenant=package.receiver_tenant,
            purpose=SEAL_PURPOSE,
            sealed=package.package_sealed or "",
            context=package.referral_id.bytes,
        )
    except SealError as error:
        raise PackageDoesNotOpen(
            f"the package of referral {package.referral_id} does not open"
        ) from error
    opened: dict[str, Any] = json.loads(plaintext)
    return opened


async def open_linked_case(
    *,
    session: AsyncSession,
    accepted: ReferralAccepted,
    package: dict[str, Any],
    today: date,
    keyring: Keyring,
) -> Case | None:
    """Register the linked case in the receiver's tenant (the session's tenant); publishes
    ``case.registered`` with ``origin_referral_id``. None if the case already exists."""
    existing = await session.scalar(
        select(Case).where(Case.origin_referral_id == accepted.referral_id)
    )
    if existing is not None:
        return None
    principal = Principal(
        user_id=accepted.responsible_user,
        username=accepted.responsible_user,
        tenant_id=accepted.receiver_tenant,
        roles=frozenset({Role.CASEWORKER}),
    )
    data = linked_case_input(package, services=[s.value for s in accepted.services])
    try:
        return await registration.register(
            session=session,
            principal=principal,
            data=data,
            today=today,
            keyring=keyring,
            origin_referral_id=accepted.referral_id,
        )
    except registration.TenantNotOnboarded as error:
        raise ReceiverNotOnboarded(
            f"receiving tenant {accepted.receiver_tenant} is not onboarded in intake"
        ) from error


async def forget_packages_of_consent(*, session: AsyncSession, consent_id: uuid.UUID) -> int:
    """Delete the stored packages shared under a consent (it was withdrawn); how many."""
    result = await session.execute(
        delete(SharePackage).where(SharePackage.consent_id == consent_id).returning(SharePackage.id)
    )
    return len(result.all())
