"""The NGO a registration is for, from intake's tenant directory, read once per few seconds.

Every registration needs its NGO's code and country (the case number, ``case.registered``)
and must be refused for an NGO that is not onboarded or is suspended. The row changes only
with a ``tenant.*`` event, yet was read on every registration: one round trip and an ORM load
of about twenty (``make bench``). An active NGO's row is kept here for ``ttl`` seconds, per
process; a tenant event this process applies drops it once committed
(:func:`intake.handlers`). One applied by another instance of intake reaches this one within
``ttl``; every service refuses a suspended NGO's tokens within 20 s anyway
(:mod:`tirek.auth`), so the cache adds nothing to that window. An NGO that is unknown or
suspended is never cached: it is read again on its next request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.tenants.models import Tenant


@dataclass(frozen=True)
class ActiveTenant:
    """What a registration needs of its NGO."""

    id: uuid.UUID
    code: str
    country: str


class TenantDirectory:
    def __init__(self, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._active: dict[uuid.UUID, tuple[float, ActiveTenant]] = {}

    async def active(self, session: AsyncSession, tenant_id: uuid.UUID) -> ActiveTenant | None:
        """The NGO if it is onboarded and active, else ``None``."""
        now = self._clock()
        cached = self._active.get(tenant_id)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        row = (
            await session.execute(
                select(Tenant.id, Tenant.code, Tenant.country, Tenant.active).where(
                    Tenant.id == tenant_id
                )
            )
        ).one_or_none()
        if row is None or not row.active:
            self._active.pop(tenant_id, None)
            return None
        tenant = ActiveTenant(id=row.id, code=row.code, country=row.country)
        if self.ttl > 0:
            self._active[tenant_id] = (now, tenant)
        return tenant

    def forget(self, tenant_id: uuid.UUID) -> None:
        """Drop what is kept of the NGO (after a change to its row has committed)."""
        self._active.pop(tenant_id, None)


#: The process's directory; its views, handlers and jobs share it.
DIRECTORY = TenantDirectory()
