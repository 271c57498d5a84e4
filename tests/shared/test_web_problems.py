"""Every error of a Tirek service is an RFC 9457 problem, and none echoes what was submitted.

In-process (httpx over ASGI): this is HTTP-layer logic, no broker or database involved.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, StringConstraints
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from tirek.settings import ServiceSettings
from tirek.web import Conflict, Unauthorized, create_service_app
from tirek.web.middleware import json_nesting_exceeds

PROBLEM = "application/problem+json"
# Stands in for a victim's name or document number: it must never come back in an answer.
SENTINEL = "Sabirov-Takhir-SENTINEL-7731"
MAX_BODY = 2048


class AssistanceKind(enum.StrEnum):
    LEGAL = "legal"
    SOCIAL = "social"


class AssistanceIn(BaseModel):
    kind: AssistanceKind
    given_on: datetime.date
    note: Annotated[str, StringConstraints(max_length=40)]


def build_app() -> FastAPI:
    app = create_service_app(
        ServiceSettings(service_name="webtest"),
        title="web test",
        version="0",
        max_body_size=MAX_BODY,
        readiness_timeout=0.5,
    )

    @app.post("/cases/{case_id}/assistance", status_code=201)
    async def record_assistance(case_id: str, body: AssistanceIn) -> dict[str, str]:
        return {"case_id": case_id, "kind": body.kind}

    @app.post("/cases/{case_id}/close")
    async def close_case(case_id: str) -> None:
        raise Conflict("The case is already closed.", slug="case-closed", state="closed")

    @app.get("/private")
    async def private() -> None:
        raise Unauthorized("A bearer token is required.")

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError(f"database said: duplicate key ({SENTINEL})")

    @app.post("/database-down")
    async def database_down() -> None:
        # Nothing listens on port 1: the driver's own "connection refused".
        engine = create_async_engine("postgresql+asyncpg://tirek@127.0.0.1:1/tirek")
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    @app.post("/database-restarting")
    async def database_restarting() -> None:
        raise OperationalError(
            "INSERT", {}, asyncpg.exceptions.AdminShutdownError("terminating connection")
        )

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as c:
        yield c


def valid_body(**changes: Any) -> dict[str, Any]:
    return {"kind": "legal", "given_on": "2025-03-14", "note": "first visit"} | changes


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    return body


async def test_valid_request_is_answered_normally(client: httpx.AsyncClient) -> None:
    response = await client.post("/cases/c1/assistance", json=valid_body())
    assert response.status_code == 201
    assert response.json() == {"case_id": "c1", "kind": "legal"}


async def test_unknown_enum_value_is_422_without_the_submitted_value(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/cases/c1/assistance", json=valid_body(kind=SENTINEL))
    body = assert_problem(response, 422)
    assert [e["loc"] for e in body["errors"]] == [["body", "kind"]]
    assert body["errors"][0]["type"] == "enum"
    assert SENTINEL not in response.text


async def test_oversized_string_and_bad_date_are_422_without_the_submitted_values(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/cases/c1/assistance", json=valid_body(note=SENTINEL * 10, given_on=SENTINEL)
    )
    body = assert_problem(response, 422)
    assert {e["type"] for e in body["errors"]} >= {"string_too_long"}
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "note"), ("body", "given_on")}
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])
    assert SENTINEL not in response.text


async def test_malformed_json_is_422_json_invalid(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/cases/c1/assistance",
        content=b'{"kind": "legal", "note": "' + SENTINEL.encode() + b'"',
        headers={"content-type": "application/json"},
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["type"] == "json_invalid"
    assert SENTINEL not in response.text


async def test_body_that_is_not_json_is_415_naming_the_content_type(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/cases/c1/assistance",
        content=f"kind=legal&note={SENTINEL}".encode(),
        headers={"content-type": "text/plain"},
    )
    body = assert_problem(response, 415)
    assert "Content-Type" in body["detail"]
    assert response.headers["accept-post"] == "application/json"
    assert SENTINEL not in response.text


async def test_json_nested_deeper_than_the_limit_is_422_before_parsing(
    client: httpx.AsyncClient,
) -> None:
    nested = b"[" * 100 + b"]" * 100
    response = await client.post(
        "/cases/c1/assistance", content=nested, headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 422)
    assert body["type"].endswith("/json-too-deep")


def test_nesting_is_measured_outside_strings_only() -> None:
    assert not json_nesting_exceeds(b'{"note": "' + b"[" * 100 + b'"}', 4)
    assert not json_nesting_exceeds(b'{"a": [[["\\"]]]}', 4)
    assert json_nesting_exceeds(b'{"a": [[[["\\"]]]]}', 4)
    assert json_nesting_exceeds(b"[" * 5 + b"]" * 5, 4)


async def test_declared_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/cases/c1/assistance",
        content=b"x" * (MAX_BODY + 1),
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 413)


async def test_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must be enforced while the body streams in.
        for _ in range(8):
            yield b" " * 512

    response = await client.post(
        "/cases/c1/assistance", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no/such/place"), 404)


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/cases/c1/assistance")
    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"


async def test_raised_problem_keeps_its_type_detail_and_members(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/cases/c1/close"), 409)
    assert body["type"] == "https://tirek.example/problems/case-closed"
    assert body["detail"] == "The case is already closed."
    assert body["state"] == "closed"


async def test_unauthorized_keeps_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get("/private")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_unhandled_exception_is_a_generic_500_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/broken")
    body = assert_problem(response, 500)
    assert SENTINEL not in response.text
    assert "duplicate key" not in response.text
    assert "RuntimeError" not in response.text
    assert body["detail"]


@pytest.mark.parametrize("path", ["/database-down", "/database-restarting"])
async def test_an_unreachable_database_is_a_503_with_retry_after_not_a_500(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.post(path)
    body = assert_problem(response, 503)
    assert response.headers["retry-after"]
    assert "nothing was changed" in body["detail"]


async def test_liveness_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_lists_passing_checks() -> None:
    app = build_app()

    async def fine() -> None:
        return None

    app.state.readiness_checks["database"] = fine
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_readiness_is_503_naming_the_failing_check() -> None:
    app = build_app()

    async def fine() -> None:
        return None

    async def broker_down() -> None:
        raise ConnectionError(f"nats://user:{SENTINEL}@broker refused")

    # Added after creation, as a lifespan does once the broker exists.
    app.state.readiness_checks.update({"database": fine, "nats": broker_down})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/health/ready")
    body = assert_problem(response, 503)
    assert body["checks"] == {"database": "ok", "nats": "failing"}
    assert "nats" in body["detail"]
    assert SENTINEL not in response.text


async def test_readiness_check_that_hangs_counts_as_not_ready() -> None:
    app = build_app()

    async def hangs() -> None:
        import asyncio

        await asyncio.Event().wait()

    app.state.readiness_checks["database"] = hangs
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/health/ready")
    body = assert_problem(response, 503)
    assert body["checks"] == {"database": "timeout"}


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.post("/cases/case-0001/assistance", json=valid_body())
    await client.post("/cases/case-0002/assistance", json=valid_body())
    await client.post("/cases/case-0003/assistance", json=valid_body(kind="nope"))
    await client.get("/no/such/place")

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'http_requests_total{method="POST",route="/cases/{case_id}/assistance",status="201"} 2.0'
        in text
    )
    assert (
        'http_requests_total{method="POST",route="/cases/{case_id}/assistance",status="422"} 1.0'
        in text
    )
    assert 'route="<unmatched>",status="404"' in text
    assert "http_request_duration_seconds_bucket" in text
    assert "case-0001" not in text
    assert "/no/such/place" not in text


async def test_openapi_docs_stay_available(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    responses = schema["paths"]["/cases/{case_id}/assistance"]["post"]["responses"]
    assert "application/problem+json" in responses["4XX"]["content"]
    assert "422" not in responses, "FastAPI's own 422 schema is not what the service answers"
