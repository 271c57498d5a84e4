"""Projections from a generated history on real NATS give exactly the independently computed
figures, whatever the redeliveries and the order events arrive in; a rebuild equals them."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from typing import Any

from tests.reporting.conftest import Auth, Reporting
from tests.reporting.history import NGOS


def _table(report: dict[str, Any], name: str) -> dict[str, Any]:
    for table in report["tables"]:
        if table["name"] == name:
            return table
    raise AssertionError(f"report {report['report']} has no table {name}")


def _cells(table: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {
        (row, column): table["cells"][r][c]
        for r, row in enumerate(table["rows"])
        for c, column in enumerate(table["columns"])
    }


def _nonzero(cells: dict[tuple[str, str], Any]) -> dict[tuple[str, str], Any]:
    return {key: value for key, value in cells.items() if value not in (0, None)}


async def _get(reporting: Reporting, auth: Auth, user: str, path: str) -> dict[str, Any]:
    response = await reporting.client.get(path, headers=await auth(user))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_redelivered_event_is_applied_once(reporting: Reporting) -> None:
    history = reporting.history
    assert len(history.published) > history.unique, "the history must contain redeliveries"
    ids = [str(e.id) for e in history.published]
    inbox = await reporting.scalar(
        "SELECT count(*) FROM inbox WHERE event_id::text = ANY(:ids)", ids=ids
    )
    assert inbox == history.unique, "each event once in the inbox, copies included"
    assert await reporting.scalar(
        "SELECT count(*) FROM assistance_facts WHERE tenant_id::text = ANY(:ngos)",
        ngos=[str(n.id) for n in NGOS],
    ) == sum(history.truth.assistance_by_type.values())


async def test_each_ngo_sees_exactly_the_cases_of_its_history(
    reporting: Reporting, auth: Auth
) -> None:
    truth = reporting.history.truth
    for ngo in NGOS:
        report = await _get(reporting, auth, f"{ngo.alias}-manager", "/v1/reports/summary")
        assert report["scope"] == "ngo"
        by_sex = _nonzero(_cells(_table(report, "cases_opened_by_sex")))
        expected = {
            (code, sex): n
            for (code, sex), n in truth.cases_opened_by_sex.items()
            if code == ngo.code
        }
        # The newest case.updated wins even when it arrived before older ones.
        assert by_sex == expected, f"{ngo.code}: cases by sex of the newest state"
        cases = _cells(_table(report, "cases"))
        assert cases[(ngo.code, "closed")] == truth.cases_closed[ngo.code]


async def test_each_ngo_sees_exactly_the_assistance_of_its_history(
    reporting: Reporting, auth: Auth
) -> None:
    truth = reporting.history.truth
    for ngo in NGOS:
        report = await _get(reporting, auth, f"{ngo.alias}-caseworker", "/v1/reports/assistance")
        records = _nonzero(_cells(_table(report, "assistance_records_by_type")))
        assert records == {k: v for k, v in truth.assistance_by_type.items() if k[0] == ngo.code}
        persons = _nonzero(_cells(_table(report, "persons_assisted_by_type")))
        assert persons == {
            k: len(v) for k, v in truth.persons_by_type.items() if k[0] == ngo.code and v
        }
        indicators = await _get(reporting, auth, f"{ngo.alias}-admin", "/v1/reports/indicators")
        hotline = {
            project: value
            for (key, project), value in _cells(_table(indicators, "donor_indicators")).items()
            if key == "hotline_consultations" and value
        }
        assert hotline == {
            project: n
            for (code, project), n in truth.hotline_by_project.items()
            if code == ngo.code
        }, f"{ngo.code}: hotline consultations (assistance and anonymous contacts) per project"


async def test_each_ngo_sees_exactly_its_referrals_and_returns(
    reporting: Reporting, auth: Auth
) -> None:
    truth = reporting.history.truth
    for ngo in NGOS:
        report = await _get(reporting, auth, f"{ngo.alias}-manager", "/v1/reports/referrals")
        funnel = _cells(_table(report, "referral_funnel_by_sender"))
        got = {k: v for k, v in funnel.items() if v and k[1] != "overdue_now"}
        expected = {
            (sender, column): n
            for (viewer, sender, column), n in truth.funnel_by_sender.items()
            if viewer == ngo.code
        }
        assert got == expected, f"{ngo.code}: referral funnel"
        report = await _get(reporting, auth, f"{ngo.alias}-manager", "/v1/reports/returns")
        routes = _nonzero(_cells(_table(report, "returns_by_route")))
        assert routes == {
            (route, column): n
            for (viewer, route, column), n in truth.returns_by_route.items()
            if viewer == ngo.code
        }, f"{ngo.code}: returns by route"


async def test_coordinator_sees_every_ngo_and_no_small_cell(
    reporting: Reporting, auth: Auth
) -> None:
    truth = reporting.history.truth
    report = await _get(reporting, auth, "coordinator", "/v1/reports/assistance")
    assert report["scope"] == "consortium"
    table = _table(report, "assistance_records_by_type")
    assert set(table["rows"]) >= {n.code for n in NGOS}
    hidden = 0
    codes = {n.code for n in NGOS}
    for (ngo, kind), value in _cells(table).items():
        if ngo not in codes:
            continue  # events of other tests
        true = truth.assistance_by_type[(ngo, kind)]
        if value == "<5":
            hidden += 1
        else:
            assert value == true and not 0 < value < 5
    assert hidden, "this history has small cells: some must be hidden"


async def test_rebuild_by_replay_equals_the_live_projections(
    reporting: Reporting, auth: Auth
) -> None:
    live = await reporting.snapshot()
    before = await reporting.scalar("SELECT active FROM projection_generations")
    headers = {**await auth("platform-admin"), "Idempotency-Key": str(uuid.uuid4())}
    response = await reporting.client.post("/v1/admin/rebuild", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["generation"] == before + 1
    # A client that lost the answer retries with its key: the first rebuild's answer, no second.
    retry = await reporting.client.post("/v1/admin/rebuild", headers=headers)
    assert (retry.status_code, retry.json()) == (200, response.json())
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert await reporting.scalar("SELECT active FROM projection_generations") == before + 1
    rebuilt = await reporting.snapshot()
    assert rebuilt.keys() == live.keys()
    for table in live:
        assert rebuilt[table] == live[table], f"{table} differs after the rebuild"
    # The old generation is gone, the new one is what reports read.
    assert (
        await reporting.scalar("SELECT count(*) FROM case_facts WHERE generation = :g", g=before)
        == 0
    )


async def test_the_rebuild_command_equals_the_live_projections(reporting: Reporting) -> None:
    live = await reporting.snapshot()
    before = await reporting.scalar("SELECT active FROM projection_generations")
    settings = reporting.settings
    env = {
        **os.environ,
        "TIREK_DB_URL": settings.db_url,
        "TIREK_NATS_URL": settings.nats_url,
        "TIREK_NAMESPACE": settings.namespace,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reporting",
        "rebuild",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    assert await reporting.scalar("SELECT active FROM projection_generations") == before + 1
    assert await reporting.snapshot() == live
