"""ASGI middleware of every Tirek service: request observation and the body size limit.

Both are plain ASGI (no ``BaseHTTPMiddleware``): they stream bodies through untouched and keep
the request's context variables, so the current span stays visible to handlers and logs.
"""

from __future__ import annotations

import logging
import traceback
from time import perf_counter
from typing import Final

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tirek.web.problems import problem_response

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "UNMATCHED_ROUTE",
    "BodySizeLimitMiddleware",
    "HttpMetrics",
    "RequestObservationMiddleware",
    "route_template",
]

#: 1 MiB: far above any JSON form a caseworker submits; uploads get their own limit.
DEFAULT_MAX_BODY_SIZE: Final = 1024 * 1024
#: Route label of requests that matched no route, so unknown paths cannot explode label sets.
UNMATCHED_ROUTE: Final = "<unmatched>"

_request_log = logging.getLogger("tirek.web.requests")
_error_log = logging.getLogger("tirek.web.errors")


def route_template(scope: Scope) -> str:
    """The matched route's template (``/cases/{case_id}``), never the raw path with ids."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


class HttpMetrics:
    """A per-application Prometheus registry with HTTP request count and latency."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Process, platform and GC figures of this process, as the default registry has them.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        labels = ("method", "route", "status")
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by route template, method and status.",
            labels,
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by route template, method and status.",
            labels,
            registry=self.registry,
        )

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route, str(status)).observe(seconds)


class RequestObservationMiddleware:
    """Times, counts and logs every request; turns an unhandled exception into a 500 problem.

    The log line holds method, route template, status and duration only: no query string, no
    body, no header. An unhandled exception is logged once (type and traceback, with the trace
    id) and answered with a generic problem that reveals nothing of it.
    """

    def __init__(
        self, app: ASGIApp, *, metrics: HttpMetrics, quiet_paths: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.metrics = metrics
        #: Paths (probes, scrapes) logged at DEBUG instead of INFO.
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started_at = perf_counter()
        status = 500
        response_started = False

        async def observed_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except Exception as exc:
            route = route_template(scope)
            _record_on_span(exc)
            _error_log.error(
                "unhandled exception",
                exc_info=exc,
                extra={"method": scope["method"], "route": route},
            )
            if response_started:
                # Too late for a problem body: let the server close the connection.
                raise
            status = 500
            response = problem_response(
                500,
                detail="An unexpected error occurred. It has been logged; quote the trace id "
                "when reporting it.",
            )
            await response(scope, receive, send)
        finally:
            seconds = perf_counter() - started_at
            route = route_template(scope)
            method = scope["method"]
            self.metrics.observe(method=method, route=route, status=status, seconds=seconds)
            _request_log.log(
                logging.DEBUG if scope["path"] in self.quiet_paths else logging.INFO,
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )


def _record_on_span(exc: BaseException) -> None:
    # Type and stack only: the span exporter must not carry the exception's message either.
    span = trace.get_current_span()
    if not span.is_recording():
        return
    exc_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
    span.add_event(
        "exception",
        {
            "exception.type": exc_type,
            "exception.stacktrace": "".join(traceback.format_tb(exc.__traceback__)),
        },
    )
    span.set_status(Status(StatusCode.ERROR, exc_type))


class _BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the streamed body passes the limit.

    An ``HTTPException`` so that FastAPI's body parsing re-raises it as is and the problem
    handler answers 413.
    """

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="The request body is too large.")


class BodySizeLimitMiddleware:
    """Refuses request bodies larger than ``max_body_size`` bytes with a 413 problem.

    A declared ``Content-Length`` over the limit is refused before the application runs; a
    body without one (chunked) is counted as it streams in, so it is never read whole into
    memory past the limit.
    """

    def __init__(self, app: ASGIApp, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        if max_body_size < 0:
            raise ValueError("max_body_size must not be negative")
        self.app = app
        self.max_body_size = max_body_size

    def _too_large(self) -> ASGIApp:
        return problem_response(
            413,
            detail=f"The request body is larger than {self.max_body_size} bytes.",
            type="about:blank",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            await self._too_large()(scope, receive, send)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_size:
                    raise _BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except _BodyTooLarge:
            # The route read the body outside FastAPI's parsing (e.g. request.stream()).
            if response_started:
                raise
            await self._too_large()(scope, receive, send)
