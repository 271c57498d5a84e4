"""Bad report requests get a clear 4xx problem, never a 500."""

from __future__ import annotations

import pytest

from tests.reporting.conftest import Auth, Reporting

BAD = [
    ("/v1/reports/summary?from=2026-05-01&to=2026-01-01", 400),
    ("/v1/reports/summary?from=yesterday", 422),
    # Found by tests/fuzz: read as seconds since 1970, a filter that silently meant 1970-01-01.
    ("/v1/reports/summary?from=0.0", 422),
    ("/v1/reports/referrals?to=1700000000", 422),
    ("/v1/reports/summary?country=kazakhstan", 422),
    ("/v1/reports/assistance?ngo=not-a-uuid", 422),
    ("/v1/reports/indicators?project=" + "x" * 40, 422),
    ("/v1/reports/timeseries?measure=names", 422),
    ("/v1/reports/timeseries?interval=decade", 422),
    ("/v1/reports/persons/export", 422),
    ("/v1/reports/summary/export?format=pdf", 422),
]


@pytest.mark.parametrize(("path", "status"), BAD)
async def test_a_bad_request_is_refused_with_a_problem(
    reporting: Reporting, auth: Auth, path: str, status: int
) -> None:
    response = await reporting.client.get(path, headers=await auth("coordinator"))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_unknown_ngo_or_empty_period_gives_zeros(reporting: Reporting, auth: Auth) -> None:
    headers = await auth("coordinator")
    response = await reporting.client.get(
        "/v1/reports/summary?ngo=00000000-0000-0000-0000-000000000000", headers=headers
    )
    assert response.status_code == 200
    response = await reporting.client.get(
        "/v1/reports/referrals?from=2030-01-01&to=2030-12-31", headers=headers
    )
    assert response.status_code == 200
    assert all(not table["rows"] for table in response.json()["tables"])
