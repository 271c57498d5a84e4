"""The HTTP application factory every Tirek service starts from.

:func:`create_service_app` gives a FastAPI application with problem-details errors, health
probes, Prometheus metrics, tracing and a request log; the service adds its routers::

    def create_app(settings: IntakeSettings) -> FastAPI:
        app = create_service_app(settings, title="Tirek intake", version=__version__,
                                 lifespan=lifespan)
        app.include_router(cases.views.router)
        return app
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any, Final

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from tirek.auth import TenantSuspensions, TokenVerifier, verifier_from_settings
from tirek.crypto import key_provider_for
from tirek.messaging.broker import nats_connect_options
from tirek.messaging.naming import Naming
from tirek.settings import ServiceSettings
from tirek.telemetry import records_nothing
from tirek.web.health import DEFAULT_CHECK_TIMEOUT, ReadinessCheck, run_checks
from tirek.web.idempotency import install_idempotency
from tirek.web.middleware import (
    BodySizeLimitMiddleware,
    HttpMetrics,
    RequestObservationMiddleware,
    TraceContextMiddleware,
)
from tirek.web.params import single_valued_query
from tirek.web.problems import (
    PROBLEM_OPENAPI_RESPONSE,
    ServiceUnavailable,
    install_problem_handlers,
)

__all__ = ["LIVE_PATH", "METRICS_PATH", "READY_PATH", "create_service_app"]

LIVE_PATH: Final = "/health/live"
READY_PATH: Final = "/health/ready"
METRICS_PATH: Final = "/metrics"
_OPERATIONS_PATHS: Final = frozenset({LIVE_PATH, READY_PATH, METRICS_PATH})

# Span attributes that the OpenTelemetry ASGI middleware fills from the raw URL. A query string
# may carry a searched name, so they are rewritten without it (see _redact_query).
_URL_ATTRIBUTES: Final = ("http.url", "url.full", "http.target")


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    version: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    tracer_provider: TracerProvider | None = None,
    max_body_size: int | None = None,
    readiness_timeout: float = DEFAULT_CHECK_TIMEOUT,
    watch_tenant_suspensions: bool = True,
) -> FastAPI:
    """A FastAPI application with everything a Tirek service answers besides its own routes.

    - every 4xx/5xx as an RFC 9457 ``application/problem+json`` body (see ``problems``),
      including validation errors (without the submitted values), unknown routes, wrong
      methods, bodies over ``max_body_size`` bytes (413; ``settings.http_max_body_bytes``
      when ``None``), bodies slower than ``settings.http_body_timeout`` (408), JSON nested
      deeper than ``settings.http_max_json_depth`` (422), a body that is not JSON where the
      route takes JSON (415) and unhandled exceptions (500);
    - ``GET /health/live``; ``GET /health/ready`` running ``app.state.readiness_checks``
      (a dict: add checks in the lifespan, once the engine and broker exist), each within
      ``readiness_timeout`` seconds, 503 naming the failing ones;
    - ``GET /metrics``: Prometheus text from ``app.state.metrics_registry``, with request
      count and latency by route template, method and status;
    - OpenTelemetry server spans from ``tracer_provider`` (the global one when ``None``),
      probes and scrapes excluded; where it records nothing, only the trace context
      (:class:`~tirek.web.middleware.TraceContextMiddleware`); a JSON request log line per
      request;
    - ``app.state.settings``; ``app.state.token_verifier`` for ``tirek.auth``'s dependencies
      (from the settings' issuer, closed on shutdown). OpenAPI stays at ``/docs``;
    - ``Idempotency-Key`` on POST, PUT, PATCH and DELETE (:mod:`tirek.web.idempotency`),
      honoured by every unit of work given the :data:`~tirek.web.idempotency.Idempotency`
      dependency; answers are sealed with the settings' master key;
    - unless ``watch_tenant_suspensions`` is false, ``app.state.tenant_suspensions``: the
      suspended tenants (:class:`tirek.auth.TenantSuspensions`, from ``settings.nats_url``
      and ``settings.namespace``), watched while the lifespan runs, with a readiness check
      ``tenant-suspensions`` that fails until the replay caught up. Their tokens get 403.
    """
    token_verifier = verifier_from_settings(settings)
    suspensions = (
        TenantSuspensions(
            nats_url=settings.nats_url,
            naming=Naming(settings.namespace),
            connect_options=nats_connect_options(settings),
        )
        if watch_tenant_suspensions
        else None
    )
    app = FastAPI(
        title=title,
        version=version,
        lifespan=_closing(token_verifier, suspensions, lifespan),
        responses={"4XX": PROBLEM_OPENAPI_RESPONSE, "5XX": PROBLEM_OPENAPI_RESPONSE},
        # FastAPI's own telemetry would trace each request a second time and record query
        # strings; the OpenTelemetry instrumentation below is the one we configure.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
        dependencies=[Depends(single_valued_query)],
    )
    metrics = HttpMetrics()
    app.state.settings = settings
    app.state.metrics_registry = metrics.registry
    app.state.readiness_checks = dict(readiness_checks or {})
    # Tests may replace it with a verifier of their own issuer.
    app.state.token_verifier = token_verifier
    app.state.tenant_suspensions = suspensions

    install_problem_handlers(app)
    # Innermost middleware: it sees the body after the size limit, and its answer is observed.
    install_idempotency(
        app,
        keys=key_provider_for(settings),
        ttl=timedelta(seconds=settings.idempotency_key_ttl),
    )
    # Added last = outermost: the observer sees (and counts) the 413s of the body limit.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_size=settings.http_max_body_bytes if max_body_size is None else max_body_size,
        body_timeout=settings.http_body_timeout,
        max_json_depth=settings.http_max_json_depth,
    )
    app.add_middleware(RequestObservationMiddleware, metrics=metrics, quiet_paths=_OPERATIONS_PATHS)
    _add_operations_routes(app, readiness_timeout=readiness_timeout)

    provider = tracer_provider or trace.get_tracer_provider()
    if records_nothing(provider):
        # Outermost, as the instrumentor's middleware would be: every log line has the id.
        app.add_middleware(
            TraceContextMiddleware, tracer_provider=provider, excluded_paths=_OPERATIONS_PATHS
        )
        return app
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        excluded_urls=",".join(f"{path}$" for path in sorted(_OPERATIONS_PATHS)),
        # One server span per request, not one more per ASGI send/receive message.
        exclude_spans=["receive", "send"],
        server_request_hook=_redact_query,
    )
    return app


def _closing(
    token_verifier: TokenVerifier,
    suspensions: TenantSuspensions | None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the suspension watch, run the service's lifespan, then stop the watch and close
    the verifier's HTTP client on shutdown."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        try:
            if suspensions is not None:
                # Registered here, not at construction: an app never started has no watch.
                app.state.readiness_checks["tenant-suspensions"] = suspensions.readiness_check
                await suspensions.start()
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            if suspensions is not None:
                await suspensions.stop()
            await token_verifier.aclose()

    return run


def _redact_query(span: Span, scope: dict[str, Any]) -> None:
    if not span.is_recording() or not scope.get("query_string"):
        return
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "REDACTED")


def _add_operations_routes(app: FastAPI, *, readiness_timeout: float) -> None:
    @app.get(LIVE_PATH, include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(READY_PATH, include_in_schema=False)
    async def ready(request: Request) -> Response:
        checks: Mapping[str, ReadinessCheck] = request.app.state.readiness_checks
        outcomes = await run_checks(checks, seconds_each=readiness_timeout)
        failing = sorted(name for name, outcome in outcomes.items() if outcome != "ok")
        if failing:
            raise ServiceUnavailable(
                f"Not ready: {', '.join(failing)}.", slug="not-ready", checks=outcomes
            )
        return JSONResponse({"status": "ok", "checks": outcomes})

    @app.get(METRICS_PATH, include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        return Response(
            generate_latest(request.app.state.metrics_registry),
            media_type=CONTENT_TYPE_LATEST,
        )
