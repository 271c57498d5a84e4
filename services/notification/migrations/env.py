"""Alembic environment for notification's own database. Run as the owner role:
``python -m notification migrate`` (reads TIREK_DB_OWNER_URL; the app role name comes from
TIREK_DB_URL)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

# Every domain's tables, so that autogenerate sees them all.
from notification.channels import models as _channels  # noqa: F401
from notification.deliveries import models as _deliveries  # noqa: F401
from notification.inbox import models as _inbox  # noqa: F401
from notification.models import Base
from notification.recipients import models as _recipients  # noqa: F401
from notification.rules import models as _rules  # noqa: F401
from notification.tenants import models as _tenants  # noqa: F401
from tirek.db.idempotency import idempotency_metadata
from tirek.messaging import messaging_metadata

config = context.config
# The kernel's outbox and inbox live beside notification's tables: autogenerate sees both.
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
