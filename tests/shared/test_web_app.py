"""What create_service_app wires besides errors: settings, lifespan, token verifier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tirek.auth import CurrentPrincipal, TokenVerifier
from tirek.settings import ServiceSettings
from tirek.web import create_service_app


async def test_lifespan_runs_and_checks_it_adds_count_for_readiness() -> None:
    events: list[str] = []

    async def broker_check() -> None:
        events.append("checked")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("started")
        app.state.readiness_checks["nats"] = broker_check
        yield
        events.append("stopped")

    settings = ServiceSettings(service_name="lifespan-test")
    # Only the service's own checks here; the kernel's suspension watch has its own tests
    # (test_suspension.py) and would need the ADMIN stream on a NATS server.
    app = create_service_app(
        settings, title="t", version="0", lifespan=lifespan, watch_tenant_suspensions=False
    )
    assert app.state.settings is settings

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/health/ready")
        assert response.status_code == 200
        assert response.json()["checks"] == {"nats": "ok"}

    assert events == ["started", "checked", "stopped"]


async def test_missing_bearer_token_is_a_401_problem_with_a_challenge() -> None:
    settings = ServiceSettings(oidc_issuer="http://127.0.0.1:9/realms/tirek")
    app = create_service_app(settings, title="t", version="0")
    assert isinstance(app.state.token_verifier, TokenVerifier)
    assert app.state.token_verifier.issuer == "http://127.0.0.1:9/realms/tirek"

    @app.get("/cases")
    async def list_cases(principal: CurrentPrincipal) -> list[str]:
        return []

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/cases")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"] == "bearer token required"
