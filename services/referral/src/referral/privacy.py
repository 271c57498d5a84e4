"""Data protection in referral: what is encrypted at rest, keys, and erasure.

**Encrypted at rest** (:mod:`tirek.crypto`, AES-256-GCM bound to tenant, table, row, field):
the share package, under the RECEIVING NGO's data key (the one NGO that reads it); the free
text of a referral (reason, decline and cancel notes), its messages and its return plan
(route, escort, who meets the person), under the SENDING NGO's data key. A stolen referral
database holds ciphertext and wrapped keys only: it names nobody without the master key.

**Share packages.** Intake seals a package for its trip under the master key, bound to the
receiver and the referral id (:func:`tirek.crypto.seal`); on receipt referral opens it and
stores it under the receiver's own data key at once (``attach_package``). Rotating the master
key therefore needs only ``keys rewrap`` here; nothing at rest stays under the old one.

**Keys** (``python -m referral keys rewrap|rotate --tenant ID|seal-plaintext|status``): the
same commands as intake's, over referral's own ``data_keys`` table (see
:mod:`tirek.crypto.rotation`).

**Erasure** (``person.erased`` from intake, :func:`purge_for_erased_person`): for each
referral the event names, if the erasing NGO is one of its parties, the package is deleted
(``referral.package_purged``, reason ``person_erased``) and the referral's free text, messages
and return-plan text are erased. States, dates and services stay, so reports do not change.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referral.directory.models import Partner
from referral.messages.models import ReferralMessage
from referral.referrals import service as referrals
from referral.referrals.models import Referral, SharePackage
from referral.returns.models import ReturnPlan
from tirek.crypto import Keyring, TenantKeys, open_record, seal_record
from tirek.crypto.records import sealed_fields
from tirek.crypto.rotation import Resealable, SealedStore
from tirek.db import UnitOfWork
from tirek.events.intake import PersonErased
from tirek.events.referral import ReferralPackagePurged

ERASED_REASON = "person_erased"


def resealables(keyring: Keyring) -> list[Resealable]:
    """Every sealed table of referral, and how to re-encrypt one of its rows."""

    async def reseal_package(session: AsyncSession, package: object, keys: TenantKeys) -> None:
        assert isinstance(package, SharePackage)
        if package.key_version is None:  # intake's transport seal, kept before this release
            package.package = await referrals.open_package(keyring, package)
        else:
            open_record(package, keys)
        seal_record(package, keys)

    return [
        Resealable(Referral),
        Resealable(ReferralMessage),
        Resealable(ReturnPlan),
        Resealable(SharePackage, reseal_package),
    ]


async def tenants(sessions: async_sessionmaker[AsyncSession]) -> list[uuid.UUID]:
    """Every NGO of the directory (no row-level security)."""
    async with UnitOfWork(sessions, None) as session:
        return list(await session.scalars(select(Partner.tenant_id).order_by(Partner.tenant_id)))


#: Referral's sealed tables, over every NGO of the directory.
STORE = SealedStore(resealables, tenants)
seal_plaintext = STORE.seal_plaintext
rotate = STORE.rotate
rewrap = STORE.rewrap
status = STORE.status


async def _erase(keyring: Keyring, record: object) -> None:
    for name in sealed_fields(type(record)):
        setattr(record, name, None)
    await referrals.seal(keyring, record)


async def purge_for_erased_person(
    *,
    session: AsyncSession,
    keyring: Keyring,
    tenant: uuid.UUID,
    erased: PersonErased,
    now: datetime,
) -> int:
    """Purge what referral holds of a person ``tenant`` erased (see module); the session is
    scoped to ``tenant``, so referrals it is no party to stay untouched. How many referrals."""
    ids = [share.referral_id for share in erased.shares]
    rows = await session.scalars(
        select(Referral)
        .where(
            Referral.id.in_(ids),
            or_(Referral.sender_tenant == tenant, Referral.receiver_tenant == tenant),
        )
        .with_for_update()
    )
    purged = 0
    for referral in rows:
        await _erase(keyring, referral)
        referral.updated_at = now
        messages = await session.scalars(
            select(ReferralMessage).where(ReferralMessage.referral_id == referral.id)
        )
        for message in messages:
            await _erase(keyring, message)
        plan = await session.scalar(select(ReturnPlan).where(ReturnPlan.referral_id == referral.id))
        if plan is not None:
            await _erase(keyring, plan)
        removed = await session.execute(
            delete(SharePackage).where(SharePackage.referral_id == referral.id)
        )
        if removed.rowcount:  # type: ignore[attr-defined]
            referral.package_purged_at = now
            await referrals.publish(
                session,
                referral,
                ReferralPackagePurged(
                    **referrals.facts(referral, actor=None, at=now),
                    consent_id=referral.consent_id,
                    reason=ERASED_REASON,
                ),
                tenant=referral.sender_tenant,
            )
        purged += 1
    await session.flush()
    return purged
