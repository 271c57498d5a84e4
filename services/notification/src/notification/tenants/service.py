"""The tenant directory: kept from ``tenant.*`` events; names localize NGO names in messages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification.tenants.models import Tenant
from tirek.events.admin import TenantOnboarded, TenantReactivated, TenantSuspended


async def apply_tenant_event(
    session: AsyncSession, payload: TenantOnboarded | TenantSuspended | TenantReactivated
) -> None:
    if isinstance(payload, TenantOnboarded):
        statement = insert(Tenant).values(
            id=payload.tenant_id, kind=payload.kind, names=payload.names, active=True
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[Tenant.id],
                set_={"kind": statement.excluded.kind, "names": statement.excluded.names},
            )
        )
    else:
        tenant = await session.get(Tenant, payload.tenant_id)
        if tenant is not None:
            tenant.active = isinstance(payload, TenantReactivated)


async def ensure_known(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Make the dispatcher see a tenant that configured something before its event arrived."""
    await session.execute(
        insert(Tenant).values(id=tenant_id, names={}).on_conflict_do_nothing(index_elements=["id"])
    )


async def tenant_ids(session: AsyncSession) -> list[uuid.UUID]:
    return list((await session.scalars(select(Tenant.id).order_by(Tenant.id))).all())


async def coordination_tenants(session: AsyncSession) -> list[uuid.UUID]:
    query = select(Tenant.id).where(Tenant.kind == "coordination", Tenant.active.is_(True))
    return list((await session.scalars(query)).all())


async def all_names(session: AsyncSession) -> dict[uuid.UUID, Mapping[str, str]]:
    """Every tenant's names, by id (the directory is a few dozen NGOs)."""
    rows = await session.execute(select(Tenant.id, Tenant.names))
    return {tenant_id: names for tenant_id, names in rows.all()}
