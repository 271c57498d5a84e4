"""An NGO leaving the consortium, as reporting sees it: its administrator may download its
facts while it is leaving; once offboarded its facts stay — so a donor report of a past
period reads as it did — but the NGO is no longer named anywhere: its row becomes
``EX-<country>``. The other NGO's row does not change, and a rebuild by replay agrees.

Its own reporting instance, database and namespace: the suite's shared history must not gain
these NGOs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from reporting.main import create_app
from reporting.migrate import upgrade
from reporting.settings import ReportingSettings
from tests.offboarding import Ngo, consumed, eventually, new_ngo, onboarded, publish, rows_of
from tests.reporting.conftest import Auth
from tirek.events import Envelope
from tirek.events.admin import TenantOffboarded, TenantOffboardingStarted
from tirek.events.intake import CaseRegistered
from tirek.messaging.naming import Naming
from tirek.messaging.streams import REPORTING_ADMIN, REPORTING_CASES, ensure_streams
from tirek.testing.plugin import MakeDatabase
from tirek.web.tenant_export import EXPORT_PATH

PERIOD = {"from": "2026-01-01", "to": "2026-12-31"}


@pytest.fixture(scope="module")
async def service(
    make_database: MakeDatabase, nats_url: str, namespace: str, devidp_url: str, pg_admin_dsn: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Naming]]:
    naming = Naming(f"{namespace}repoff")
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream(), naming)
    finally:
        await nc.close()
    db = await make_database("repoff")
    settings = ReportingSettings(
        env="test",
        nats_url=nats_url,
        namespace=naming.namespace,
        db_url=db.app_url,
        db_owner_url=db.owner_url,
        oidc_issuer=f"{devidp_url}realms/tirek",
        db_pool_size=6,
    )
    await asyncio.to_thread(upgrade, settings)
    engine = create_async_engine(
        make_url(pg_admin_dsn).set(drivername="postgresql+asyncpg", database=db.name)
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
            yield client, engine, naming
    await engine.dispose()


def case_registered(ngo: Ngo, sex: str) -> Envelope:
    payload = CaseRegistered.model_validate(
        {
            "case_id": uuid.uuid4(),
            "case_number": f"{ngo.country}-{ngo.code}-2026-000001",
            "person_id": uuid.uuid4(),
            "opened_on": "2026-03-01",
            "country": ngo.country,
            "sex": sex,
            "age_band": "18-24",
            "categories": ["presumed_victim_of_trafficking"],
            "trm_stage": "identification",
            "status": "active",
            "risk_level": "high",
        }
    )
    return Envelope.wrap(payload, tenant=ngo.id, subject=payload.case_id)


async def publish_case(nats_url: str, naming: Naming, envelope: Envelope) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(
            naming.subject(envelope.subject_name),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(envelope.id)},
        )
    finally:
        await nc.close()


async def summary(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/reports/summary", params=PERIOD, headers=headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def by_row(report: dict[str, Any]) -> dict[str, Any]:
    """Each table keyed by its row labels (a former partner's row moves to the end), rows of
    nothing but zeros left out (a former partner is no longer listed just to show zeros)."""
    tables = {}
    for table in report["tables"]:
        row_totals = table.get("row_totals") or [None] * len(table["rows"])
        tables[table["name"]] = {
            "rows": {
                row: (cells, total)
                for row, cells, total in zip(table["rows"], table["cells"], row_totals, strict=True)
                if any(cells) or total
            },
            "columns": table["columns"],
            "column_totals": table.get("column_totals"),
            "total": table.get("total"),
        }
    return tables


def relabelled(value: Any, old: str, new: str) -> Any:
    """``value`` (a report) with every label ``old`` read as ``new``."""
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, list):
        return [relabelled(item, old, new) for item in value]
    if isinstance(value, dict):
        return {relabelled(k, old, new): relabelled(v, old, new) for k, v in value.items()}
    return value


async def test_an_offboarded_ngos_figures_stay_under_a_neutral_label_and_nothing_else_moves(
    service: tuple[httpx.AsyncClient, Any, Naming],
    nats_url: str,
    devidp_url: str,
    _server_dir: Path,
    auth: Auth,
) -> None:
    client, engine, naming = service
    leaving = await new_ngo(devidp_url, _server_dir, country="KZ")
    staying = await new_ngo(devidp_url, _server_dir, country="KG")
    for ngo in (leaving, staying):
        await publish(nats_url, naming, onboarded(ngo))
        for sex in ("female",) * 6 + ("male",) * 5:
            await publish_case(nats_url, naming, case_registered(ngo, sex))
    await consumed(nats_url, naming, REPORTING_ADMIN.name)
    await consumed_cases(nats_url, naming)
    coordinator = await auth("coordinator")
    before = await summary(client, coordinator)
    facts_before = await rows_of(engine, leaving.id)
    assert leaving.code in str(before) and staying.code in str(before)

    await publish(nats_url, naming, TenantOffboardingStarted(tenant_id=leaving.id))
    export: list[httpx.Response] = []

    async def exported() -> bool:
        export[:] = [await client.get(EXPORT_PATH, headers=leaving.headers["tenant_admin"])]
        return export[0].status_code == 200

    await eventually(exported, "the leaving NGO's administrator downloads its facts")
    assert len(export[0].json()["tables"]["case_facts"]) == 11

    await publish(nats_url, naming, TenantOffboarded(tenant_id=leaving.id))
    await consumed(nats_url, naming, REPORTING_ADMIN.name)
    after = await summary(client, coordinator)

    assert leaving.code not in str(after), "reports still name the NGO that left"
    assert by_row(after) == by_row(relabelled(before, leaving.code, f"EX-{leaving.country}")), (
        "a past period's figures changed when an NGO left"
    )
    assert await rows_of(engine, leaving.id) == facts_before, "the de-identified facts moved"
    async with engine.connect() as conn:
        names = (
            (
                await conn.execute(
                    text("SELECT names::text FROM tenant_labels WHERE id = :i"), {"i": leaving.id}
                )
            )
            .scalars()
            .all()
        )
    assert names and all(f"Test NGO {leaving.code}" not in n for n in names)

    rebuilt = await client.post("/v1/admin/rebuild", headers=await auth("platform-admin"))
    assert rebuilt.status_code == 200, rebuilt.text
    assert await summary(client, coordinator) == after, "a rebuild by replay named the NGO again"


async def consumed_cases(nats_url: str, naming: Naming) -> None:
    async def done() -> bool:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().consumer_info(
                naming.stream("INTAKE"), naming.durable(REPORTING_CASES.name)
            )
        finally:
            await nc.close()
        return info.num_pending == 0 and info.num_ack_pending == 0

    await eventually(done, "reporting projected every case")
