"""Every service's OpenAPI, fuzzed by schemathesis over real HTTP with valid tokens.

For every operation of every service, schemathesis generates valid and invalid requests from
the published schema and checks each answer: never a 5xx, always the documented status, media
type and body (problem details for errors), invalid input rejected, valid input accepted.

One check is ours: **another NGO's token on a first NGO's resource is refused**. Path ids are
drawn half the time from the first NGO's real resources (its cases, persons, consents,
referrals, recipients, its tenant and users), and every read or action (GET, POST) that the
first NGO's user got a 2xx for is replayed with the same role at a second NGO: it must answer
403 or 404.

``TIREK_FUZZ_EXAMPLES`` (default 8) sets the examples per operation; raise it for a deeper
local run, e.g. ``TIREK_FUZZ_EXAMPLES=200 .venv/bin/pytest tests/fuzz -q``.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.fuzz.conftest import Platform
from tirek.demo.consortium import USERS as USERS_OF_DEMO
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
    person_ids = [
        httpx.get(
            f"{urls['intake']}/v1/cases/{case_id}", headers=platform.auth("akt-manager")
        ).json()["person"]["id"]
        for case_id in case_ids[:2]
    ]
    consent_ids = [
        c["id"]
        for case_id in case_ids[:2]
        for c in items("intake", "akt-manager", f"/v1/cases/{case_id}/consents")
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
                "user_id": [
                    r["user_id"] for r in items("notification", "akt-admin", "/v1/recipients")
                ],
            },
            "admin": {
                "tenant_id": [str(tenant_by_code("AKT").id)],
                "user_id": [str(u.id) for u in USERS_OF_DEMO if u.tenant_code == "AKT"],
            },
        }
    )
    assert case_ids and person_ids and KNOWN["referral"]["referral_id"], "the demo seed is missing"
    return KNOWN


def _schema(platform: Platform, service: str) -> Any:
    raw = httpx.get(f"{platform.urls[service]}/openapi.json", timeout=30).json()
    return schemathesis.openapi.from_dict(raw)


def _operations(platform: Platform, service: str) -> list[Any]:
    raw = httpx.get(f"{platform.urls[service]}/openapi.json", timeout=30).json()
    operations = []
    for result in schemathesis.openapi.from_dict(raw).get_all_operations():
        operations.append(result.ok())  # a schema schemathesis cannot read fails here
    return operations


#: Problem types of request validation (FastAPI/Pydantic): on schema-valid input they mean the
#: published schema and the code disagree. Other 422s are rules of the domain (no sharing
#: agreement, a birth date before 1900), which no JSON Schema can state.
_STRUCTURAL_ERRORS = frozenset(
    {
        "missing",
        "extra_forbidden",
        "enum",
        "literal_error",
        "string_too_long",
        "string_too_short",
        "string_pattern_mismatch",
        "int_parsing",
        "float_parsing",
        "bool_parsing",
        "uuid_parsing",
        "date_from_datetime_parsing",
        "date_parsing",
        "datetime_parsing",
        "list_type",
        "dict_type",
        "model_type",
        "too_long",
        "too_short",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "json_invalid",
        "string_type",
        "int_type",
        "float_type",
        "bool_type",
    }
)


def fuzz(case: schemathesis.Case, service: str, platform: Platform, *, owned: bool) -> None:
    """Call ``case`` with the owner's token and validate the answer; when its path names the
    owner's real resources and it succeeded, replay it with another NGO's token."""
    owner, other = USERS[service]
    response = case.call_and_validate(
        base_url=platform.urls[service],
        headers=platform.auth(owner),
        timeout=30,
        excluded_checks=[positive_data_acceptance],
    )
    if case.meta.generation.mode.is_positive and response.status_code == 422:
        problem = response.json()
        structural = [e for e in problem.get("errors", []) if e["type"] in _STRUCTURAL_ERRORS]
        assert not structural, (
            f"{case.method} {case.formatted_path}: schema-valid input refused as invalid "
            f"{structural}: the published schema and the code disagree"
        )
    # PUT and DELETE address the caller's own tenant by a key it chooses (a recipient by user
    # id): another NGO's PUT makes its own row. Reads and actions must find nothing.
    if owned and case.method in ("GET", "POST") and 200 <= response.status_code < 300:
        replay = case.call(
            base_url=platform.urls[service], headers=platform.auth(other), timeout=30
        )
        assert replay.status_code in (403, 404), (
            f"{case.method} {case.formatted_path}: {owner} got {response.status_code}, and "
            f"{other} of another NGO got {replay.status_code} instead of 403/404"
        )


def _runner(
    strategy: st.SearchStrategy[schemathesis.Case],
    service: str,
    platform: Platform,
    known: dict[str, list[str]],
) -> Any:
    @FUZZ_SETTINGS
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(strategy, label="case")
        real = {k: known[k] for k in case.path_parameters or {} if known.get(k)}
        # A case made invalid in its path keeps its generated ids: real ones would make it
        # valid there, and schemathesis would still expect it refused.
        path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
        invalid_path = path is not None and path.mode.is_negative
        owned = bool(real) and not invalid_path and data.draw(st.booleans(), label="AKT's own ids")
        if owned:
            case.path_parameters = {
                **case.path_parameters,
                **{k: data.draw(st.sampled_from(v), label=k) for k, v in real.items()},
            }
        fuzz(case, service, platform, owned=owned)

    return run


def fuzz_service(service: str, platform: Platform, known: dict[str, list[str]]) -> None:
    """Fuzz every operation in both modes; fail once, listing every operation that failed."""
    failures: list[str] = []
    for operation in _operations(platform, service):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = _runner(operation.as_strategy(generation_mode=mode), service, platform, known)
            try:
                run()
            except Unsatisfiable:
                continue  # nothing to make invalid (no parameters, no body)
            except (
                Exception,
                ExceptionGroup,
            ) as exc:  # every operation gets its turn; all failures are listed
                failures.append(f"{operation.method.upper()} {operation.path} ({mode}): {exc}")
    assert not failures, f"{len(failures)} operations of {service} failed:\n\n" + "\n\n".join(
        failures
    )


@pytest.mark.parametrize("service", list(USERS))
def test_every_fuzzed_request_is_answered_by_the_schema_and_tenants_stay_apart(
    service: str, platform: Platform, known_ids: dict[str, dict[str, list[str]]]
) -> None:
    fuzz_service(service, platform, known_ids.get(service, {}))
