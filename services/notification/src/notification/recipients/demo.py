"""Recipients of the demo consortium (development and tests): one per demo user."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.recipients.schemas import RecipientIn
from notification.recipients.service import upsert
from tirek.db import UnitOfWork
from tirek.demo.consortium import USERS, tenant_by_code

_NOTIFIED_ROLES = {"caseworker", "case_manager", "tenant_admin", "coordinator"}


def demo_recipients() -> list[tuple[uuid.UUID, str, RecipientIn]]:
    """``(tenant id, user id, recipient)`` for every demo user who can be notified."""
    result = []
    for user in USERS:
        roles = [role for role in user.roles if role in _NOTIFIED_ROLES]
        if not roles:
            continue
        recipient = RecipientIn.model_validate(
            {"roles": roles, "language": user.language, "email": user.email or None}
        )
        result.append((tenant_by_code(user.tenant_code).id, str(user.id), recipient))
    return result


async def seed_demo_recipients(sessions: async_sessionmaker[AsyncSession]) -> int:
    recipients = demo_recipients()
    for tenant_id, user_id, recipient in recipients:
        async with UnitOfWork(sessions, tenant_id) as session:
            await upsert(session, tenant_id=tenant_id, user_id=user_id, data=recipient)
    return len(recipients)
