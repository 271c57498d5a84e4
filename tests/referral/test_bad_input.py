"""Bad input gets a clear 4xx problem and changes nothing; no request answers 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.referral.conftest import OSH, ReferralService

VALID: dict[str, Any] = {
    "case_id": str(uuid.uuid4()),
    "receiver_tenant": str(OSH),
    "services": ["return"],
    "reason": "Returning home.",
    "consent_id": str(uuid.uuid4()),
    "fields": ["first_name"],
}


@pytest.mark.parametrize(
    "change",
    [
        {"services": []},
        {"services": ["teleportation"]},
        {"services": ["return", "return"]},
        {"fields": []},
        {"fields": ["First Name; DROP TABLE"]},
        {"urgency": "yesterday"},
        {"reason": ""},
        {"reason": "x" * 5000},
        {"receiver_tenant": "not-a-uuid"},
        {"case_id": None},
        {"unexpected": 1},
        {"reason": "null \x00 byte"},
    ],
    ids=str,
)
async def test_a_malformed_referral_is_refused_and_nothing_is_stored(
    referral: ReferralService, change: dict[str, Any]
) -> None:
    before = await referral.count("referrals")
    body = {**VALID, **change}
    response = await referral.client.post(
        "/v1/referrals", headers=await referral.auth("akt-caseworker"), json=body
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await referral.count("referrals") == before


async def test_a_referral_to_oneself_is_refused(referral: ReferralService) -> None:
    from tests.referral.conftest import AKT

    response = await referral.client.post(
        "/v1/referrals",
        headers=await referral.auth("akt-caseworker"),
        json={**VALID, "receiver_tenant": str(AKT)},
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("/self-referral")


@pytest.mark.parametrize(
    "query",
    [
        "?direction=sideways",
        "?state=limbo",
        "?limit=0",
        "?offset=-1",
        "?limit=abc",
        # Found by tests/fuzz: an offset past PostgreSQL's bigint was a 500.
        "?offset=4549894995273955618796339200&limit=4549894995273955618796339200",
    ],
)
async def test_a_bad_list_query_is_a_problem(referral: ReferralService, query: str) -> None:
    response = await referral.client.get(
        f"/v1/referrals{query}", headers=await referral.auth("akt-caseworker")
    )
    assert response.status_code == 422, response.text


async def test_a_bad_directory_query_is_a_problem(referral: ReferralService) -> None:
    for query in ("?country=kyrgyzstan", "?service=teleportation"):
        response = await referral.client.get(
            f"/v1/directory{query}", headers=await referral.auth("akt-caseworker")
        )
        assert response.status_code == 422, response.text


async def test_a_malformed_referral_id_is_a_problem(referral: ReferralService) -> None:
    response = await referral.get("akt-caseworker", "not-a-uuid")
    assert response.status_code == 422
