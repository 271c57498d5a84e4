"""Rows written straight into reporting's projections (as the superuser, past row-level
security), for report tests that need shapes no generated history has: labels shared by two
NGOs, people with many records. No event made them, so a rebuild by replay would not make
them again: a test removes them when it is done (:func:`remove`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from reporting.reports.tables import ReportTable

#: The active generation, in SQL.
ACTIVE = "(SELECT active FROM projection_generations WHERE id = 1)"


async def write_labels(
    conn: AsyncConnection, labels: Mapping[uuid.UUID, str], country: str
) -> None:
    """An NGO's label (its code) for each tenant id, in ``country``."""
    await conn.execute(
        text(
            "INSERT INTO tenant_labels (generation, id, code, country, region, kind, names, "
            f"state_at) VALUES ({ACTIVE}, :id, :code, :country, '', 'ngo', "
            "CAST(:names AS jsonb), now())"
        ),
        [
            {"id": tenant, "code": code, "country": country, "names": json.dumps({"en": code})}
            for tenant, code in labels.items()
        ],
    )


async def remove(engine: AsyncEngine, tenants: Iterable[uuid.UUID]) -> None:
    """Every projection row of ``tenants`` and their labels."""
    ids = list(tenants)
    async with engine.begin() as conn:
        await conn.execute(text("SELECT set_config('app.all_tenants', 'on', true)"))
        for table, column in (
            ("assistance_facts", "tenant_id"),
            ("contact_facts", "tenant_id"),
            ("referral_facts", "sender_tenant"),
            ("tenant_labels", "id"),
        ):
            await conn.execute(
                text(f"DELETE FROM {table} WHERE {column} = ANY(:ids)"), {"ids": ids}
            )


def cells(table: ReportTable) -> dict[tuple[str, str], Any]:
    """``{(row, column): value}`` of a report table, its empty cells left out."""
    return {
        (row, column): value
        for row, values in zip(table.rows, table.cells, strict=True)
        for column, value in zip(table.columns, values, strict=True)
        if value
    }
