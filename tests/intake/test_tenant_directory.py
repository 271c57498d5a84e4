"""The tenant directory a registration reads: an active NGO is kept a few seconds, nothing
else is kept, and a change applied in this process is seen at once."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from intake.tenants.directory import TenantDirectory
from tests.intake.conftest import Intake
from tirek.db import UnitOfWork


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _set(intake: Intake, tenant_id: uuid.UUID, *, active: bool) -> None:
    async with intake.admin_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO tenants (id, code, country, region, kind, names, active) "
                "VALUES (:id, 'DIR', 'KG', 'Chuy', 'ngo', '{}', :active) "
                "ON CONFLICT (id) DO UPDATE SET active = :active"
            ),
            {"id": tenant_id, "active": active},
        )


async def test_an_active_ngo_is_kept_for_its_ttl_and_dropped_by_forget(intake: Intake) -> None:
    clock, tenant_id = Clock(), uuid.uuid4()
    directory = TenantDirectory(ttl=5.0, clock=clock)
    sessions = intake.app.state.sessions
    await _set(intake, tenant_id, active=True)
    async with UnitOfWork(sessions, None) as session:
        first = await directory.active(session, tenant_id)
    assert first is not None and (first.code, first.country) == ("DIR", "KG")

    await _set(intake, tenant_id, active=False)  # suspended by another instance
    async with UnitOfWork(sessions, None) as session:
        assert await directory.active(session, tenant_id) == first, "read again within its TTL"
        clock.now += 5.0
        assert await directory.active(session, tenant_id) is None, "kept past its TTL"

    await _set(intake, tenant_id, active=True)
    async with UnitOfWork(sessions, None) as session:
        assert await directory.active(session, tenant_id) == first
    await _set(intake, tenant_id, active=False)  # suspended through this process
    directory.forget(tenant_id)
    async with UnitOfWork(sessions, None) as session:
        assert await directory.active(session, tenant_id) is None, "forget left it cached"


async def test_an_unknown_or_suspended_ngo_is_never_kept(intake: Intake) -> None:
    clock, tenant_id = Clock(), uuid.uuid4()
    directory = TenantDirectory(ttl=5.0, clock=clock)
    sessions = intake.app.state.sessions
    async with UnitOfWork(sessions, None) as session:
        assert await directory.active(session, tenant_id) is None
    await _set(intake, tenant_id, active=False)
    async with UnitOfWork(sessions, None) as session:
        assert await directory.active(session, tenant_id) is None
    # Onboarded (or reactivated) a moment later: the next request sees it, no TTL to wait.
    await _set(intake, tenant_id, active=True)
    async with UnitOfWork(sessions, None) as session:
        assert await directory.active(session, tenant_id) is not None
