"""An NGO's recipients: upsert, list, remove, and the ones a rule's target names."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification.recipients.models import Recipient
from notification.recipients.schemas import RecipientIn
from notification.tenants.service import ensure_known


async def upsert(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: str, data: RecipientIn
) -> Recipient:
    await ensure_known(session, tenant_id)
    values = data.model_dump()
    statement = insert(Recipient).values(
        id=uuid.uuid4(), tenant_id=tenant_id, user_id=user_id, **values
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Recipient.tenant_id, Recipient.user_id], set_=values
        )
    )
    recipient = await get(session, user_id=user_id)
    assert recipient is not None
    return recipient


async def get(session: AsyncSession, *, user_id: str) -> Recipient | None:
    query = select(Recipient).where(Recipient.user_id == user_id)
    return (await session.scalars(query.execution_options(populate_existing=True))).first()


async def list_all(session: AsyncSession) -> list[Recipient]:
    return list((await session.scalars(select(Recipient).order_by(Recipient.user_id))).all())


async def remove(session: AsyncSession, *, user_id: str) -> bool:
    result = await session.execute(delete(Recipient).where(Recipient.user_id == user_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Addressee:
    """An active recipient as planning keeps it (a plain value, shared across events)."""

    user_id: str
    roles: frozenset[str]
    language: str
    email: str | None
    telegram_chat_id: str | None
    preferences: Mapping[str, str]


async def active(session: AsyncSession) -> list[Addressee]:
    """The session's tenant's active recipients, by user id."""
    query = select(Recipient).where(Recipient.active.is_(True)).order_by(Recipient.user_id)
    return [
        Addressee(
            user_id=row.user_id,
            roles=frozenset(row.roles),
            language=row.language,
            email=row.email,
            telegram_chat_id=row.telegram_chat_id,
            preferences=dict(row.preferences),
        )
        for row in (await session.scalars(query)).all()
    ]


def matching(
    recipients: Iterable[Addressee], *, role: str | None, user_id: str | None
) -> list[Addressee]:
    """Those of ``recipients`` holding ``role``, or the one ``user_id``."""
    if user_id is not None:
        return [r for r in recipients if r.user_id == user_id]
    if role is not None:
        return [r for r in recipients if role in r.roles]
    return []
