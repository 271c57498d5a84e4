"""``tenant.*`` events keep intake's tenant directory current."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake.tenants.models import Tenant
from tirek.events.admin import TenantOnboarded, TenantReactivated, TenantSuspended


async def apply_tenant_event(
    session: AsyncSession, payload: TenantOnboarded | TenantSuspended | TenantReactivated
) -> None:
    if isinstance(payload, TenantOnboarded):
        values = {
            "id": payload.tenant_id,
            "code": payload.code,
            "country": payload.country,
            "region": payload.region,
            "kind": payload.kind,
            "names": payload.names,
            "active": True,
        }
        statement = insert(Tenant).values(**values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[Tenant.id],
                set_={k: statement.excluded[k] for k in values if k not in {"id", "active"}},
            )
        )
    else:
        tenant = await session.get(Tenant, payload.tenant_id)
        if tenant is not None:
            tenant.active = isinstance(payload, TenantReactivated)
