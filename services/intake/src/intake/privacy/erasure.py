"""Erasing one person's personal data, on request or by retention, and everywhere it was shared.

:func:`erase_person` (in the person's NGO): every sealed field of the person, of their cases,
of those cases' assistance records and consents goes to NULL (ciphertext gone), the blind
indexes are emptied, and so are the birth year and estimated age; the person's family links
and the kept copies of their share packages are deleted. The case rows stay with their
de-identified facts (sex, age band, citizenship, categories, stage, dates): every count of
reporting stays as it was. An :class:`Erasure` row records who, when and why (ids only), and
``person.erased`` names every referral whose package held the person (:class:`SharedCopy`),
and the referral of a linked case, so that each holder purges its copy.

:func:`clear_linked_copies` (``person.erased`` in the RECEIVING NGOs): the fields a package
copied into a linked case (``origin_referral_id``) are cleared there too.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.assistance.models import AssistanceRecord
from intake.cases.models import Case
from intake.consents.models import Consent
from intake.partners import service as partners
from intake.persons.models import FamilyLink, Person
from intake.persons.search import index_person
from intake.privacy.models import Erasure
from intake.privacy.reveal import reveal
from intake.shares.models import SharedCopy, SharePackage
from tirek.crypto import Keyring, TenantKeys, seal_record
from tirek.crypto.records import sealed_fields
from tirek.db import set_tenant
from tirek.events import Envelope
from tirek.events.intake import ErasedShare, ErasureBasis, PersonErased
from tirek.messaging.outbox import add_to_outbox
from tirek.web.problems import Conflict, NotFound


class PersonAlreadyErased(Conflict):
    def __init__(self) -> None:
        super().__init__(
            title="Already erased",
            detail="The personal data of this person was already erased.",
            slug="person-erased",
        )


def _erase_fields(record: object, keys: TenantKeys) -> None:
    """Every sealed field of ``record`` to NULL: no ciphertext is left to decrypt."""
    for name in sealed_fields(type(record)):
        setattr(record, name, None)
    seal_record(record, keys)


async def erase_person(
    *,
    session: AsyncSession,
    keyring: Keyring,
    person_id: uuid.UUID,
    basis: ErasureBasis,
    actor: str,
    now: datetime,
) -> Erasure:
    """Erase a person of the session's NGO (see the module); publishes ``person.erased``.

    Raises 404 for a person the NGO does not have, 409 for one already erased.
    """
    person = await session.scalar(select(Person).where(Person.id == person_id).with_for_update())
    if person is None:
        raise NotFound(title="Person not found", detail="No such person in your organisation.")
    if person.erased_at is not None:
        raise PersonAlreadyErased()
    tenant = person.tenant_id
    keys = await keyring.keys(tenant)
    cases = list(
        (
            await session.scalars(
                select(Case).where(Case.person_id == person_id).with_for_update(of=Case)
            )
        ).unique()
    )
    case_ids = [case.id for case in cases]

    _erase_fields(person, keys)
    person.birth_year = None
    person.estimated_age = None
    person.languages = []
    person.name_indexes, person.document_indexes = [], []
    await partners.forget_person(session, person_id=person_id)  # derived from the name
    person.erased_at = now
    for case in cases:
        _erase_fields(case, keys)
    for model in (AssistanceRecord, Consent):
        for record in await session.scalars(select(model).where(model.case_id.in_(case_ids))):
            _erase_fields(record, keys)
    await session.execute(delete(SharePackage).where(SharePackage.case_id.in_(case_ids)))
    await session.execute(
        delete(FamilyLink).where(
            or_(FamilyLink.person_id == person_id, FamilyLink.related_person_id == person_id)
        )
    )

    copies = await session.scalars(select(SharedCopy).where(SharedCopy.case_id.in_(case_ids)))
    shares = [
        ErasedShare(referral_id=c.referral_id, receiver_tenant=c.receiver_tenant) for c in copies
    ]
    # A linked case: the package it came from is held for this NGO by the referral service.
    shares += [
        ErasedShare(referral_id=case.origin_referral_id, receiver_tenant=tenant)
        for case in cases
        if case.origin_referral_id is not None
    ]
    erasure = Erasure(
        id=uuid.uuid4(),
        tenant_id=tenant,
        person_id=person_id,
        basis=basis.value,
        erased_by=actor,
        erased_at=now,
        case_ids=case_ids,
        referral_ids=[share.referral_id for share in shares],
    )
    session.add(erasure)
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(
            PersonErased(
                person_id=person_id, case_ids=case_ids, basis=basis, erased_at=now, shares=shares
            ),
            tenant=tenant,
            subject=person_id,
        ),
    )
    return erasure


async def clear_linked_copies(
    *, session: AsyncSession, keyring: Keyring, sender: uuid.UUID, erased: PersonErased
) -> int:
    """Clear, in every receiving NGO, the fields a share package copied into its linked case.

    The session has no tenant set; it is scoped in turn to the sender (to find what was copied:
    a referral the sender never shared clears nothing) and to each receiver. Returns how many
    linked cases were cleared.
    """
    cleared = 0
    for share in erased.shares:
        if share.receiver_tenant == sender:
            continue  # the erasing NGO's own linked case: erased with the person
        await set_tenant(session, sender)
        copy = await session.get(SharedCopy, share.referral_id)
        if copy is None or copy.receiver_tenant != share.receiver_tenant:
            continue
        fields = set(copy.fields)
        await set_tenant(session, share.receiver_tenant)
        case = await session.scalar(
            select(Case).where(Case.origin_referral_id == share.referral_id)
        )
        if case is None:
            continue  # never accepted: no linked case was opened
        person = case.person
        copied = fields & set(sealed_fields(Person))
        if not copied or person.erased_at is not None:
            continue
        keys = await keyring.keys(share.receiver_tenant)
        await reveal(keyring, [person])
        for name in copied:
            setattr(person, name, None)
        if "birth_date" in copied:
            person.birth_year = None
        index_person(person, keys)
        seal_record(person, keys)
        await partners.forget_person(session, person_id=person.id)
        cleared += 1
    await session.flush()
    return cleared
