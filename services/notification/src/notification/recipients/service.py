"""An NGO's recipients: upsert, list, remove, and the ones a rule's target names."""

from __future__ import annotations

import uuid

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


async def matching(
    session: AsyncSession, *, role: str | None, user_id: str | None
) -> list[Recipient]:
    """Active recipients of the session's tenant holding ``role``, or the one ``user_id``."""
    query = select(Recipient).where(Recipient.active.is_(True))
    if user_id is not None:
        query = query.where(Recipient.user_id == user_id)
    elif role is not None:
        query = query.where(Recipient.roles.contains([role]))
    else:
        return []
    return list((await session.scalars(query.order_by(Recipient.user_id))).all())
