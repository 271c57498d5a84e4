"""``GET /v1/tenant-export``: a leaving NGO takes its data from each service before erasure.

Offboarding (admin) first stops the NGO from acting, then — until a platform administrator
confirms the offboarding and every service erases the NGO's rows — lets the NGO's tenant
administrators download, from every service, everything that service holds of the NGO
(:func:`tirek.db.erasure.export_tenant`: the same rows the erasure will delete). The export
is read under the NGO's own row-level security and answered only to its own administrators:
the platform administrator, who starts and confirms the offboarding, cannot read it (case
content is personal data). Each download is logged (who, which tenant, how many rows; never
the rows).

A service includes :func:`tenant_export_router` with its :class:`~tirek.db.erasure.TenantData`
(the same one its erasure handler uses) and keeps ``app.state.sessions`` set. A service that
encrypts at rest also passes its declarative base (``sealed=Base``) and keeps
``app.state.keyring``: the NGO gets its data readable, not its ciphertext
(:func:`tirek.crypto.records.open_exported_rows`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tirek.auth import ExportingTenantAdmin
from tirek.crypto.records import open_exported_rows
from tirek.db import UnitOfWork
from tirek.db.erasure import TenantData, export_tenant

__all__ = ["EXPORT_PATH", "tenant_export_router"]

EXPORT_PATH = "/v1/tenant-export"
_log = logging.getLogger("tirek.offboarding")


def tenant_export_router(data: TenantData | None = None, *, sealed: Any = None) -> APIRouter:
    """The export endpoint of one service, for the rows ``data`` describes; ``sealed``: the
    service's declarative base when it has sealed (encrypted) fields."""
    router = APIRouter(tags=["offboarding"])

    @router.get(EXPORT_PATH, response_model=None)
    async def export_my_organisations_data(
        principal: ExportingTenantAdmin, request: Request
    ) -> JSONResponse:
        """Everything this service holds of the caller's NGO, as JSON (tables of rows).
        Only for the NGO's tenant administrators, and only while the NGO is being offboarded
        (409 otherwise)."""
        sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
        service = str(request.app.state.settings.service_name)
        async with UnitOfWork(sessions, principal.tenant_id) as session:
            tables = await export_tenant(session, principal.tenant_id, data)
        if sealed is not None:
            await open_exported_rows(
                tables, base=sealed, keyring=request.app.state.keyring, tenant=principal.tenant_id
            )
        _log.info(
            "tenant export downloaded",
            extra={
                "tenant_id": str(principal.tenant_id),
                "count": sum(len(rows) for rows in tables.values()),
            },
        )
        body: dict[str, Any] = {
            "service": service,
            "tenant_id": str(principal.tenant_id),
            "exported_at": datetime.now(UTC).isoformat(),
            "exported_by": principal.user_id,
            "tables": tables,
        }
        return JSONResponse(
            body,
            headers={
                "Content-Disposition": (
                    f'attachment; filename="tirek-{service}-{principal.tenant_id}.json"'
                ),
                "Cache-Control": "no-store",
            },
        )

    return router
