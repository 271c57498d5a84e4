"""Every service's OpenAPI, fuzzed by schemathesis over real HTTP with valid tokens.

For every operation of every service, schemathesis generates valid and invalid requests from
the published schema and checks each answer: never a 5xx, always the documented status, media
type and body (problem details for errors), invalid input rejected, valid input accepted.

One check is ours: **another NGO's token on a first NGO's resource is refused**. Path ids are
drawn half the time from the first NGO's real resources (its cases, persons, referrals,
recipients, channels, rules, its tenant), and every request that the first NGO's user got a
2xx for is replayed with the same role at a second NGO: it must answer 403 or 404.

``TIREK_FUZZ_EXAMPLES`` (default 8) sets the examples per operation; raise it for a deeper
local run, e.g. ``TIREK_FUZZ_EXAMPLES=200 .venv/bin/pytest tests/fuzz -q``.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import Platform
from tirek.demo.consortium import tenant_by_code

EXAMPLES = int(os.environ.get("TIREK_FUZZ_EXAMPLES", "8"))

#: Per service: the user whose token fuzzes it (the role that reaches most routes) and the
#: same kind of user at another NGO, whose token must never reach the first one's resources.
USERS = {
    "intake": ("akt-manager", "tld-manager"),
    "referral": ("akt-manager", "tld-manager"),
    "notification": ("akt-admin", "tld-admin"),
    "reporting": ("akt-manager", "tld-manager"),
    "admin": ("platform-admin", "tld-admin"),
}

#: service -> path parameter name -> ids of AKT's own resources (filled by ``known_ids``).
KNOWN: dict[str, dict[str, list[str]]] = {}

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def _service_of(operation: Any) -> str:
    return str(operation.schema.raw_schema["info"]["title"]).removeprefix("Tirek ")


@schemathesis.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Half the time, every path id we know is replaced by one of AKT's real ones."""
    known = KNOWN.get(_service_of(context.operation), {})
    choices = {k: known[k] for k in path_parameters if known.get(k)}
    if not choices:
        return st.just(path_parameters)
    real = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in choices.items()}).map(
        lambda ids: {**path_parameters, **ids}
    )
    return st.one_of(st.just(path_parameters), real)


@pytest.fixture(scope="package")
def known_ids(platform: Platform) -> dict[str, dict[str, list[str]]]:
    """Ids of AKT's own resources, by service and path parameter name."""
    urls = platform.urls

    def items(service: str, user: str, path: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{urls[service]}{path}", headers=platform.auth(user), timeout=30)
        response.raise_for_status()
        body = response.json()
        return list(body["items"] if isinstance(body, dict) else body)

    cases = items("intake", "akt-manager", "/v1/cases")
    case_ids = [c["id"] for c in cases]
    person_ids = [c["person"]["id"] for c in cases if isinstance(c.get("person"), dict)]
    consent_ids = [
        c["id"] for case_id in case_ids[:2] for c in items("intake", "akt-manager", f"/v1/cases/{case_id}/consents")
    ]
    referrals = items("referral", "akt-manager", "/v1/referrals?direction=outgoing")
    KNOWN.clear()
    KNOWN.update(
        {
            "intake": {
                "case_id": case_ids,
                "person_id": person_ids,
                "consent_id": consent_ids,
            },
            "referral": {"referral_id": [r["id"] for r in referrals]},
            "notification": {
                "recipient_id": [r["id"] for r in items("notification", "akt-admin", "/v1/recipients")],
                "channel_id": [c["id"] for c in items("notification", "akt-admin", "/v1/channels")],
                "rule_id": [r["id"] for r in items("notification", "akt-admin", "/v1/rules")],
            },
            "admin": {"tenant_id": [str(tenant_by_code("AKT").id)]},
        }
    )
    assert case_ids and person_ids and KNOWN["referral"]["referral_id"], "the demo seed is missing"
    return KNOWN


def _schema(platform: Platform, service: str) -> Any:
    raw = httpx.get(f"{platform.urls[service]}/openapi.json", timeout=30).json()
    return schemathesis.openapi.from_dict(raw)


@pytest.fixture(scope="package")
def intake_schema(platform: Platform, known_ids: Any) -> Any:
    return _schema(platform, "intake")


@pytest.fixture(scope="package")
def referral_schema(platform: Platform, known_ids: Any) -> Any:
    return _schema(platform, "referral")


@pytest.fixture(scope="package")
def notification_schema(platform: Platform, known_ids: Any) -> Any:
    return _schema(platform, "notification")


@pytest.fixture(scope="package")
def reporting_schema(platform: Platform, known_ids: Any) -> Any:
    return _schema(platform, "reporting")


@pytest.fixture(scope="package")
def admin_schema(platform: Platform, known_ids: Any) -> Any:
    return _schema(platform, "admin")


def fuzz(case: schemathesis.Case, platform: Platform) -> None:
    service = _service_of(case.operation)
    owner, other = USERS[service]
    response = case.call_and_validate(
        base_url=platform.urls[service], headers=platform.auth(owner), timeout=30
    )
    if case.path_parameters and 200 <= response.status_code < 300:
        replay = case.call(base_url=platform.urls[service], headers=platform.auth(other), timeout=30)
        assert replay.status_code in (403, 404), (
            f"{case.method} {case.formatted_path}: {owner} got {response.status_code}, and "
            f"{other} of another NGO got {replay.status_code} instead of 403/404"
        )


intake = schemathesis.pytest.from_fixture("intake_schema")
referral = schemathesis.pytest.from_fixture("referral_schema")
notification = schemathesis.pytest.from_fixture("notification_schema")
reporting = schemathesis.pytest.from_fixture("reporting_schema")
admin = schemathesis.pytest.from_fixture("admin_schema")


@intake.parametrize()
@FUZZ_SETTINGS
def test_intake_answers_every_fuzzed_request_by_its_schema(
    case: schemathesis.Case, platform: Platform
) -> None:
    fuzz(case, platform)


@referral.parametrize()
@FUZZ_SETTINGS
def test_referral_answers_every_fuzzed_request_by_its_schema(
    case: schemathesis.Case, platform: Platform
) -> None:
    fuzz(case, platform)


@notification.parametrize()
@FUZZ_SETTINGS
def test_notification_answers_every_fuzzed_request_by_its_schema(
    case: schemathesis.Case, platform: Platform
) -> None:
    fuzz(case, platform)


@reporting.parametrize()
@FUZZ_SETTINGS
def test_reporting_answers_every_fuzzed_request_by_its_schema(
    case: schemathesis.Case, platform: Platform
) -> None:
    fuzz(case, platform)


@admin.parametrize()
@FUZZ_SETTINGS
def test_admin_answers_every_fuzzed_request_by_its_schema(
    case: schemathesis.Case, platform: Platform
) -> None:
    fuzz(case, platform)
