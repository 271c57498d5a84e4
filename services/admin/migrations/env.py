"""Alembic environment for admin's own database. Run as the owner role:
``python -m admin migrate`` (reads TIREK_DB_OWNER_URL; the app role name comes from TIREK_DB_URL)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

# Every domain's tables, so that autogenerate sees them all.
from admin.agreements import models as _agreements  # noqa: F401
from admin.deadletters import models as _deadletters  # noqa: F401
from admin.models import Base
from admin.tenants import models as _tenants  # noqa: F401
from tirek.db.idempotency import idempotency_metadata
from tirek.messaging import messaging_metadata

config = context.config
# The kernel's outbox and inbox live beside admin's tables: autogenerate must see both.
target_metadata = [Base.metadata, messaging_metadata, idempotency_metadata]


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_main())
