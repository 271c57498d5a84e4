"""``person.erased``: clear the copies receiving NGOs' linked cases hold of the erased person."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.privacy.erasure import clear_linked_copies
from tirek.crypto import Keyring
from tirek.db import UnitOfWork
from tirek.events import Envelope
from tirek.events.intake import PersonErased
from tirek.messaging.inbox import first_delivery
from tirek.messaging.streams import INTAKE_PERSONS


async def on_person_erased(
    envelope: Envelope, *, sessions: async_sessionmaker[AsyncSession], keyring: Keyring
) -> None:
    payload = envelope.payload()
    if not isinstance(payload, PersonErased) or not payload.shares:
        return
    for share in payload.shares:  # keys first, before the transaction holds a connection
        await keyring.keys(share.receiver_tenant)
    # One transaction scoped in turn to the erasing NGO and to each receiver (see erasure).
    async with UnitOfWork(sessions, None) as session:
        if await first_delivery(session, consumer=INTAKE_PERSONS.name, event_id=envelope.id):
            await clear_linked_copies(
                session=session, keyring=keyring, sender=envelope.tenant, erased=payload
            )
