"""ASGI middleware of every Tirek service: request observation and the body size limit.

Both are plain ASGI (no ``BaseHTTPMiddleware``): they stream bodies through untouched and keep
the request's context variables, so the current span stays visible to handlers and logs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from time import perf_counter
from typing import Final

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
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

from tirek.web.problems import PROBLEM_TYPE_BASE, problem_response

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_JSON_DEPTH",
    "UNMATCHED_ROUTE",
    "BodySizeLimitMiddleware",
    "HttpMetrics",
    "RequestObservationMiddleware",
    "TraceContextMiddleware",
    "json_nesting_exceeds",
    "route_template",
]

#: 1 MiB: far above any JSON form a caseworker submits; uploads get their own limit.
DEFAULT_MAX_BODY_SIZE: Final = 1024 * 1024
#: Seconds for a whole request body to arrive.
DEFAULT_BODY_TIMEOUT: Final = 30.0
#: Nesting of arrays and objects in a JSON body; our forms nest three or four levels.
DEFAULT_MAX_JSON_DEPTH: Final = 32
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


class _BodyTooSlow(HTTPException):
    """Raised from ``receive`` when the body did not arrive within the time allowed (408)."""

    def __init__(self) -> None:
        super().__init__(status_code=408, detail="The request body did not arrive in time.")


_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_JSON_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET: Final = re.compile(rb"[\[\]{}]")


def json_nesting_exceeds(body: bytes, max_depth: int) -> bool:
    """Whether the JSON text ``body`` nests arrays and objects deeper than ``max_depth``.

    Counts brackets outside strings, without parsing: a body with no more brackets than
    ``max_depth`` (every real form) is answered from two ``count`` calls.
    """
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', body)):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        if depth > max_depth:
            return True
    return False


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class BodySizeLimitMiddleware:
    """Bounds request bodies: size (413), time to arrive (408) and JSON nesting (422).

    A declared ``Content-Length`` over ``max_body_size`` is refused before the application
    runs; a body without one (chunked) is counted as it streams in, so it is never read whole
    into memory past the limit. The whole body must arrive within ``body_timeout`` seconds of
    the request (a client that trickles it in holds a connection and a task). A JSON body is
    read here and refused when it nests deeper than ``max_json_depth``: Python's parser and
    Pydantic recurse, and no form of ours nests more than a few levels.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
    ) -> None:
        if max_body_size < 0:
            raise ValueError("max_body_size must not be negative")
        self.app = app
        self.max_body_size = max_body_size
        self.body_timeout = body_timeout
        self.max_json_depth = max_json_depth

    def _too_large(self) -> ASGIApp:
        return problem_response(
            413,
            detail=f"The request body is larger than {self.max_body_size} bytes.",
            type="about:blank",
        )

    def _too_slow(self) -> ASGIApp:
        return problem_response(
            408,
            detail=f"The request body did not arrive within {self.body_timeout:g} seconds.",
            headers={"Connection": "close"},
        )

    def _too_deep(self) -> ASGIApp:
        return problem_response(
            422,
            title="Unprocessable Content",
            detail=f"The JSON body nests deeper than {self.max_json_depth} levels.",
            type=PROBLEM_TYPE_BASE + "json-too-deep",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            await self._too_large()(scope, receive, send)
            return

        deadline = asyncio.get_running_loop().time() + self.body_timeout
        received = 0
        body_done = scope["method"] not in _BODY_METHODS and declared in (None, "0")
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:
                return await receive()  # e.g. waiting for a disconnect: no deadline
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_size:
                    raise _BodyTooLarge
                body_done = not message.get("more_body", False)
            return message

        app_receive: Receive = limited_receive
        if scope["method"] in _BODY_METHODS and _is_json(headers.get("content-type")):
            try:
                body = await _read_body(limited_receive)
            except (_BodyTooLarge, _BodyTooSlow) as exc:
                refusal = self._too_large() if isinstance(exc, _BodyTooLarge) else self._too_slow()
                await refusal(scope, receive, send)
                return
            if body is not None and json_nesting_exceeds(body, self.max_json_depth):
                await self._too_deep()(scope, receive, send)
                return
            app_receive = _replaying(body, limited_receive)

        async def watched_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, app_receive, watched_send)
        except (_BodyTooLarge, _BodyTooSlow) as exc:
            # The route read the body outside FastAPI's parsing (e.g. request.stream()).
            if response_started:
                raise
            refusal = self._too_large() if isinstance(exc, _BodyTooLarge) else self._too_slow()
            await refusal(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; ``None`` when the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes | None, receive: Receive) -> Receive:
    """A ``receive`` that hands the body read ahead to the application, then passes through."""
    pending = body is not None

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


_TRACE_HEADERS: Final = {b"traceparent": "traceparent", b"tracestate": "tracestate"}
_PROPAGATOR: Final = TraceContextTextMapPropagator()


class TraceContextMiddleware:
    """The trace context of a request, where no span is recorded: the caller's W3C
    ``traceparent`` continued (else a new trace) as the current span while the request runs,
    so its log lines, its outbox events and its calls to other services carry one trace id.

    What OpenTelemetry's ASGI middleware gives a request when the tracer provider records
    nothing (:func:`tirek.telemetry.records_nothing`), without what it does for a recorded
    span (request attributes, route names, metrics): that cost intake about a tenth of its CPU
    per registration (``make bench``, docs/benchmarks.md). ``excluded_paths`` (probes,
    scrapes) get no span, as the instrumentor excludes them.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracer_provider: trace.TracerProvider,
        excluded_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self._tracer = tracer_provider.get_tracer("tirek.web")
        self._excluded = excluded_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._excluded:
            await self.app(scope, receive, send)
            return
        carrier = {
            _TRACE_HEADERS[name]: value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _TRACE_HEADERS
        }
        parent = _PROPAGATOR.extract(carrier) if carrier else None
        span = self._tracer.start_span(
            scope["method"], context=parent, kind=SpanKind.SERVER, record_exception=False
        )
        token = context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
            span.end()
