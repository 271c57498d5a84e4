"""Exports: CSV, HXL-tagged CSV and XLSX carry the same (suppressed) figures as the API."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.reporting.conftest import Auth, Reporting
from tests.reporting.history import NGOS


async def test_csv_and_hxl_exports_hold_the_api_figures(reporting: Reporting, auth: Auth) -> None:
    headers = await auth("coordinator")
    api = (await reporting.client.get("/v1/reports/assistance", headers=headers)).json()
    published = {
        (t["name"], row, column): str(t["cells"][r][c])
        for t in api["tables"]
        for r, row in enumerate(t["rows"])
        for c, column in enumerate(t["columns"])
    }
    for fmt, skip in (("csv", 1), ("hxl", 2)):
        response = await reporting.client.get(
            f"/v1/reports/assistance/export?format={fmt}", headers=headers
        )
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0] == ["table", "row_header", "row", "column", "value"]
        if fmt == "hxl":
            assert all(tag.startswith("#") for tag in rows[1]), "HXL needs a hashtag row"
        exported = {(t, r, c): v for t, _, r, c, v in rows[skip:] if "total" not in (r, c)}
        assert exported == {k: ("" if v == "None" else v) for k, v in published.items()}


async def test_an_xlsx_export_has_a_sheet_per_table(reporting: Reporting, auth: Auth) -> None:
    manager = NGOS[0]
    response = await reporting.client.get(
        "/v1/reports/summary/export?format=xlsx", headers=await auth(f"{manager.alias}-manager")
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    api = (
        await reporting.client.get(
            "/v1/reports/summary", headers=await auth(f"{manager.alias}-manager")
        )
    ).json()
    assert len(book.sheetnames) == len(api["tables"])
    first = book.worksheets[0]
    assert next(c.value for c in next(first.iter_rows(min_row=2, max_row=2))) == manager.code
