"""Alembic environment for intake's own database. Run as the owner role:
``python -m intake migrate`` (reads TIREK_DB_OWNER_URL; the app role name comes from TIREK_DB_URL)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

# Every domain's tables, so that autogenerate sees them all.
from intake.access_log import models as _access_log  # noqa: F401
from intake.assistance import models as _assistance  # noqa: F401
from intake.cases import models as _cases  # noqa: F401
from intake.consents import models as _consents  # noqa: F401
from intake.contacts import models as _contacts  # noqa: F401
from intake.duplicates import models as _duplicates  # noqa: F401
from intake.models import Base
from intake.partners import models as _partners  # noqa: F401
from intake.persons import models as _persons  # noqa: F401
from intake.privacy import models as _privacy  # noqa: F401
from intake.shares import models as _shares  # noqa: F401
from intake.tenants import models as _tenants  # noqa: F401
from tirek.crypto.store import crypto_metadata
from tirek.db.idempotency import idempotency_metadata
from tirek.messaging import messaging_metadata

config = context.config
# The kernel's outbox and inbox live beside intake's tables: autogenerate must see both.
target_metadata = [Base.metadata, messaging_metadata, crypto_metadata, idempotency_metadata]


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
