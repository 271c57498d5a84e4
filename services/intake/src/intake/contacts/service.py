from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.contacts.models import AnonymousContact
from intake.contacts.schemas import ContactIn
from intake.privacy.reveal import reveal
from tirek.auth import Principal
from tirek.crypto import Keyring, seal_record
from tirek.events import Envelope
from tirek.events.intake import ContactRecorded
from tirek.messaging.outbox import add_to_outbox


async def record(
    *, session: AsyncSession, principal: Principal, data: ContactIn, keyring: Keyring
) -> AnonymousContact:
    """Record an anonymous contact; publishes ``contact.recorded``."""
    contact = AnonymousContact(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        received_on=data.received_on,
        mode=data.mode.value,
        topic=data.topic.value,
        country=data.country,
        sex=data.sex.value,
        project_code=data.project_code,
        notes=data.notes,
        recorded_by=principal.user_id,
    )
    seal_record(contact, await keyring.keys(principal.tenant_id))
    session.add(contact)
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(
            ContactRecorded(
                contact_id=contact.id,
                received_on=data.received_on,
                mode=data.mode,
                topic=data.topic,
                country=data.country,
                sex=data.sex,
                project_code=data.project_code,
            ),
            tenant=principal.tenant_id,
            subject=contact.id,
        ),
    )
    return contact


async def list_contacts(
    *,
    session: AsyncSession,
    received_from: date | None,
    received_to: date | None,
    limit: int,
    keyring: Keyring,
) -> list[AnonymousContact]:
    """The NGO's anonymous contacts, newest first, opened for reading."""
    statement = select(AnonymousContact)
    if received_from:
        statement = statement.where(AnonymousContact.received_on >= received_from)
    if received_to:
        statement = statement.where(AnonymousContact.received_on <= received_to)
    statement = statement.order_by(
        AnonymousContact.received_on.desc(), AnonymousContact.id.desc()
    ).limit(limit)
    contacts = list(await session.scalars(statement))
    await reveal(keyring, contacts)
    return contacts
