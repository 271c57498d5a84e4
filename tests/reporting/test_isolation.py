"""Isolation: every report endpoint, called with every demo user's token.

An NGO's caseworker, case manager and administrator see their own NGO only (and referrals
their NGO sent or received); coordinators and platform administrators see every NGO with no
count from 1 to 4; nobody without a token sees anything; only platform administrators may
rebuild. The routes come from the application itself, so a new endpoint fails
:func:`test_every_endpoint_has_an_example_request` until it is added here.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.routing import iter_route_contexts

from reporting.dashboard.views import COOKIE
from tests.reporting.conftest import Auth, Reporting
from tests.reporting.history import NGOS
from tirek.demo.consortium import tenant_by_code
from tirek.web.tenant_export import EXPORT_PATH

NGO_STAFF = tuple(
    (ngo.code, f"{ngo.alias}-{role}") for ngo in NGOS for role in ("caseworker", "manager", "admin")
)
CONSORTIUM = ("coordinator", "platform-admin")
CODES = {ngo.code for ngo in NGOS}

#: Example requests per route: (method, path template) -> concrete paths to call.
EXAMPLES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/v1/reports/summary"): ("/v1/reports/summary", "/v1/reports/summary?country=KG"),
    ("GET", "/v1/reports/assistance"): (
        "/v1/reports/assistance",
        "/v1/reports/assistance?project=IOM-CA-SAFE&from=2026-02-01&to=2026-06-30",
    ),
    ("GET", "/v1/reports/referrals"): ("/v1/reports/referrals",),
    ("GET", "/v1/reports/returns"): ("/v1/reports/returns",),
    ("GET", "/v1/reports/indicators"): ("/v1/reports/indicators",),
    ("GET", "/v1/reports/timeseries"): (
        "/v1/reports/timeseries?measure=assistance_records&interval=month",
        "/v1/reports/timeseries?measure=referrals_sent&interval=week",
    ),
    ("GET", "/v1/reports/{report}/export"): (
        "/v1/reports/summary/export?format=csv",
        "/v1/reports/referrals/export?format=hxl",
        "/v1/reports/indicators/export?format=xlsx",
    ),
}
REBUILD = ("POST", "/v1/admin/rebuild")
TENANT_EXPORT = ("GET", EXPORT_PATH)


def _routes(reporting: Reporting) -> set[tuple[str, str]]:
    found = set()
    for context in iter_route_contexts(reporting.app.routes):
        path = getattr(context.route, "path", "")
        for method in getattr(context.route, "methods", ()) or ():
            if path.startswith("/v1/") and method != "HEAD":
                found.add((method, path))
    return found


def _report_paths() -> list[str]:
    return [path for paths in EXAMPLES.values() for path in paths]


def _values(body: dict[str, Any]) -> list[Any]:
    values: list[Any] = []
    for table in body["tables"]:
        values += [v for row in table["cells"] for v in row]
        values += table["row_totals"] or []
        values += table["column_totals"] or []
        values.append(table["total"])
    return values


def _exported_values(content: bytes, path: str) -> list[str]:
    if "xlsx" in path:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(content))
        return [
            str(v)
            for sheet in book
            for row in sheet.iter_rows(min_row=2)
            for v in (c.value for c in row[1:])
        ]
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    start = 2 if "hxl" in path else 1
    return [row[4] for row in rows[start:]]


def _exported_labels(content: bytes, path: str) -> set[str]:
    if "xlsx" in path:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(content))
        labels = {str(c.value) for sheet in book for row in sheet.iter_rows() for c in row[:1]}
        return labels | {str(c.value) for sheet in book for c in next(sheet.iter_rows())}
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    return {row[2] for row in rows[1:]} | {row[3] for row in rows[1:]}


async def test_every_endpoint_has_an_example_request(reporting: Reporting) -> None:
    missing = _routes(reporting) - set(EXAMPLES) - {REBUILD, TENANT_EXPORT}
    assert not missing, f"add example requests for {sorted(missing)} to EXAMPLES"


async def test_the_tenant_export_answers_only_a_leaving_ngos_own_administrators(
    reporting: Reporting, auth: Auth
) -> None:
    """No NGO here is leaving: its administrators get 409, every other role 403 (the leaving
    NGO's own download: test_offboarding)."""
    assert TENANT_EXPORT in _routes(reporting)
    assert (await reporting.client.get(EXPORT_PATH)).status_code == 401
    for _code, user in NGO_STAFF:
        response = await reporting.client.get(EXPORT_PATH, headers=await auth(user))
        expected = 409 if user.endswith("-admin") else 403
        assert response.status_code == expected, f"{user}: {response.status_code}"
        assert "case_facts" not in response.text
    for user in CONSORTIUM:
        response = await reporting.client.get(EXPORT_PATH, headers=await auth(user))
        assert response.status_code == 403, f"{user}: {response.status_code}"


async def test_no_report_without_a_token(reporting: Reporting) -> None:
    for path in _report_paths():
        response = await reporting.client.get(path)
        assert response.status_code == 401, path
    assert (await reporting.client.post(REBUILD[1])).status_code == 401


async def test_an_ngo_sees_only_its_own_figures(reporting: Reporting, auth: Auth) -> None:
    for code, user in NGO_STAFF:
        headers = await auth(user)
        for path in _report_paths():
            response = await reporting.client.get(path, headers=headers)
            assert response.status_code == 200, f"{user} {path}: {response.text}"
            others = CODES - {code}
            if "/export" in path:
                if "/referrals/" in path:
                    continue  # shared with partners, as the JSON pair table checks
                labels = _exported_labels(response.content, path)
                leaked = {label for label in labels if label in others}
                assert not leaked, f"{user} {path} shows other NGOs as rows: {leaked}"
                continue
            body = response.json()
            assert body["scope"] == "ngo", f"{user} {path}"
            for table in body["tables"]:
                if table["row_header"] == "ngo":
                    assert set(table["rows"]) <= {code}, f"{user} {path} {table['name']}"
                # Referrals and returns belong to both NGOs; their series are by sender.
                shared = table["name"].startswith(("referrals_", "returns_"))
                if table["row_header"] in ("week", "month") and not shared:
                    assert set(table["columns"]) <= {code}, f"{user} {path} {table['name']}"
                if table["row_header"] == "pair":
                    for pair in table["rows"]:
                        assert code in pair.split(" → "), f"{user} sees the referral {pair}"


async def test_an_ngo_cannot_ask_for_another_ngo(reporting: Reporting, auth: Auth) -> None:
    other = tenant_by_code("OSH").id
    for code, user in NGO_STAFF:
        if code == "OSH":
            continue
        headers = await auth(user)
        for path in ("/v1/reports/summary", "/v1/reports/summary/export?format=csv"):
            sep = "&" if "?" in path else "?"
            response = await reporting.client.get(f"{path}{sep}ngo={other}", headers=headers)
            assert response.status_code == 403, f"{user} read OSH's figures via {path}"


async def test_the_consortium_sees_every_ngo_and_no_small_count(
    reporting: Reporting, auth: Auth
) -> None:
    for user in CONSORTIUM:
        headers = await auth(user)
        for path in _report_paths():
            response = await reporting.client.get(path, headers=headers)
            assert response.status_code == 200, f"{user} {path}: {response.text}"
            if "/export" in path:
                values = _exported_values(response.content, path)
            else:
                body = response.json()
                assert body["scope"] == "consortium"
                values = _values(body)
            small = [v for v in values if str(v) in {"1", "2", "3", "4"}]
            assert not small, f"{user} {path} published small counts {small}"
        summary = (await reporting.client.get("/v1/reports/summary", headers=headers)).json()
        assert set(summary["tables"][0]["rows"]) >= CODES


async def test_only_a_platform_administrator_may_rebuild(reporting: Reporting, auth: Auth) -> None:
    for user in (*(user for _, user in NGO_STAFF), "coordinator"):
        response = await reporting.client.post(REBUILD[1], headers=await auth(user))
        assert response.status_code == 403, f"{user} started a rebuild"


#: The dashboard's routes (cookie sessions); a new one must be added here and tested below.
DASHBOARD = {
    ("GET", "/dashboard"),
    ("GET", "/dashboard/login"),
    ("POST", "/dashboard/login"),
    ("POST", "/dashboard/logout"),
    ("GET", "/dashboard/export/{report}"),
}


def _dashboard_routes(reporting: Reporting) -> set[tuple[str, str]]:
    found = set()
    for context in iter_route_contexts(reporting.app.routes):
        path = getattr(context.route, "path", "")
        for method in getattr(context.route, "methods", ()) or ():
            if path.startswith("/dashboard") and method != "HEAD":
                found.add((method, path))
    return found


async def test_every_dashboard_route_is_covered(reporting: Reporting) -> None:
    assert _dashboard_routes(reporting) == DASHBOARD


def _cases_rows(html: str) -> set[str]:
    table = re.search(r'<table data-table="cases">(.*?)</table>', html, re.S)
    assert table, "the dashboard has no NGO table"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S)
    return set(re.findall(r"<tr><td>([^<]*)</td>", body.group(1) if body else ""))


async def test_the_dashboard_shows_an_ngo_only_its_own_figures(
    reporting: Reporting, token: Callable[[str], Awaitable[str]]
) -> None:
    client = reporting.client
    for path in ("/dashboard", "/dashboard/export/summary?format=csv"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"
    bad = await client.post(
        "/dashboard/login",
        content="username=akt-manager&password=wrong",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert bad.status_code == 401 and COOKIE not in bad.cookies
    for code, user in NGO_STAFF:
        cookies = {"Cookie": f"{COOKIE}={await token(user)}"}
        html = (await client.get("/dashboard", headers=cookies)).text
        assert _cases_rows(html) == {code}, f"{user} sees other NGOs on the dashboard"
        exported = await client.get("/dashboard/export/summary?format=csv", headers=cookies)
        assert not _exported_labels(exported.content, "csv") & (CODES - {code})
    for user in CONSORTIUM:
        cookies = {"Cookie": f"{COOKIE}={await token(user)}"}
        html = (await client.get("/dashboard", headers=cookies)).text
        assert _cases_rows(html) >= CODES
        cells = re.findall(r"<td>(\d+)</td>", html)
        assert not [v for v in cells if v in {"1", "2", "3", "4"}], f"{user} sees small counts"
        exported = await client.get("/dashboard/export/assistance?format=hxl", headers=cookies)
        values = _exported_values(exported.content, "hxl")
        assert not [v for v in values if v in {"1", "2", "3", "4"}]
