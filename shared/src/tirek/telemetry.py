"""Traces and JSON logs for every Tirek service.

Wiring, once per process, in a service's ``__main__``::

    configure_logging(settings.service_name, settings.log_level)
    provider = setup_tracing(settings.service_name)
    install_global(provider)
    instrument_asyncpg(provider)
    app = create_app(settings, tracer_provider=provider)
    uvicorn.run(app, log_config=None, access_log=False)

Tests build their own provider (with an in-memory exporter) and pass it explicitly: the global
provider can be set only once per process.

Logs never carry personal data: a record prints only its message and the ``extra`` keys in
:data:`ALLOWED_LOG_FIELDS` (identifiers, codes, timings). Anything else passed in ``extra`` is
dropped silently, so a careless ``extra={"full_name": ...}`` cannot leak a victim's name.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, TextIO
from uuid import UUID

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "ALLOWED_LOG_FIELDS",
    "JsonLogFormatter",
    "allow_log_fields",
    "configure_logging",
    "context_from_traceparent",
    "current_traceparent",
    "install_global",
    "instrument_asyncpg",
    "records_nothing",
    "setup_tracing",
]

_PROPAGATOR: Final = TraceContextTextMapPropagator()

# ---------------------------------------------------------------------------------------------
# Tracing


def setup_tracing(service_name: str, *, exporter: SpanExporter | None = None) -> TracerProvider:
    """Build a tracer provider whose resource names ``service_name``.

    - ``exporter`` given (tests): spans go to it synchronously (``SimpleSpanProcessor``);
    - else ``OTEL_EXPORTER_OTLP_ENDPOINT`` set: OTLP over HTTP, batched;
    - else no exporter: spans are not recorded (``ALWAYS_OFF``), but each still gets its trace
      and span ids, so trace ids reach logs and event envelopes and continue across services.
      Recording a span that nothing exports cost intake about a fifth of its CPU per
      registration (``make bench``, docs/benchmarks.md).

    With an exporter, which spans are recorded follows the standard ``OTEL_TRACES_SAMPLER`` and
    ``OTEL_TRACES_SAMPLER_ARG`` (default: every one; deploy/ records a sample, see README).

    The provider is *not* made global; call :func:`install_global` once from ``__main__``.
    """
    resource = Resource.create({SERVICE_NAME: service_name})
    if exporter is None and not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        # Imported here: the exporter pulls in requests and protobuf, which tests never need.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # The exporter reads the endpoint (adding /v1/traces), headers and timeout from the
        # standard OTEL_EXPORTER_OTLP_* variables itself.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def records_nothing(provider: trace.TracerProvider) -> bool:
    """True for a provider of :func:`setup_tracing` without an exporter: its spans carry ids
    and are never recorded, so instrumentation that only records them is not worth its cost."""
    return isinstance(provider, TracerProvider) and provider.sampler is ALWAYS_OFF


def install_global(provider: TracerProvider) -> None:
    """Make ``provider`` the process-wide tracer provider.

    OpenTelemetry allows this once per process (a second call is ignored with a warning), so
    only a service's ``__main__`` calls it; libraries and tests pass providers explicitly.
    """
    trace.set_tracer_provider(provider)


def instrument_asyncpg(tracer_provider: TracerProvider) -> None:
    """Trace every asyncpg query (one span per query) with ``tracer_provider``.

    Idempotent: asyncpg is patched process-wide, so the first call's provider wins and later
    calls do nothing. A provider that records nothing instruments nothing. Query parameters are
    never recorded (they may hold personal data). Database spans come from asyncpg rather than
    SQLAlchemy so that a query never gets two.
    """
    if records_nothing(tracer_provider):
        return  # spans nobody records (setup_tracing without an exporter): not worth a wrapper
    instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    if instrumentor.is_instrumented_by_opentelemetry:
        return
    instrumentor.instrument(tracer_provider=tracer_provider)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or ``None`` outside a valid span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(tp: str) -> Context:
    """A context whose parent is the span named by the W3C ``traceparent`` ``tp``.

    Use it to continue a trace across the broker or the outbox relay::

        with tracer.start_as_current_span("handle", context=context_from_traceparent(tp)):
            ...

    A malformed value yields an empty context (a new trace starts), never an error.
    """
    return _PROPAGATOR.extract({"traceparent": tp})


# ---------------------------------------------------------------------------------------------
# Logging

#: ``extra`` keys a log line may print. Identifiers, codes, counts and timings only: never a
#: name, document number, phone, address, note, token, request body or header value.
ALLOWED_LOG_FIELDS: Final[set[str]] = {
    "event_id",
    "event_type",
    "event_version",
    "event_source",
    "case_id",
    "referral_id",
    "tenant_id",
    "consumer",
    "stream",
    "subject",
    "outbox_id",
    "delivery_id",
    "attempt",
    "count",
    "status",
    "status_code",
    "path",
    "route",
    "method",
    "duration_ms",
    "check",
    "error_type",
}

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD_RECORD_ATTRS: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


def allow_log_fields(*names: str) -> None:
    """Add ``extra`` keys that log lines may print.

    Only for identifiers, codes and measurements that can never hold personal data.
    """
    for name in names:
        if name in _STANDARD_RECORD_ATTRS:
            raise ValueError(f"{name!r} is a standard log record attribute")
        ALLOWED_LOG_FIELDS.add(name)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, UUID | datetime):
        return str(value)
    if isinstance(value, Mapping | list | tuple | set):
        # Containers may smuggle anything in; allowed fields are scalars by contract.
        return f"<{type(value).__name__}>"
    return str(value)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, trace and span ids,
    the allowed ``extra`` fields and, for exceptions, their type and traceback."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service_name,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            line["trace_id"] = format(span_context.trace_id, "032x")
            line["span_id"] = format(span_context.span_id, "016x")
        for key, value in record.__dict__.items():
            if key in ALLOWED_LOG_FIELDS and key not in _STANDARD_RECORD_ATTRS:
                line[key] = _json_value(value)
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            line["exc_type"] = f"{exc_type.__module__}.{exc_type.__qualname__}"
            # The traceback lists frames only (file, line, code); the exception's message is
            # left out, since it may quote input (e.g. a constraint error with the values).
            line["traceback"] = "".join(traceback.format_tb(tb))
        return json.dumps(line, ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time of the record, not at setup.

    Test runners and process managers swap ``sys.stdout``; a handler holding the old one would
    write into a closed stream.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(service_name: str, level: str = "INFO") -> None:
    """Send every log record of the process to stdout as JSON lines.

    Replaces the root logger's handlers (idempotent) and routes uvicorn's loggers to it.
    uvicorn's access log and httpx's request log are held to warnings: they print raw URLs
    with query strings, and
    :func:`tirek.web.create_service_app` logs each request (route template, status, duration)
    instead. Run uvicorn with ``log_config=None, access_log=False`` so it keeps this setup.
    """
    handler = _StdoutHandler()
    handler.setFormatter(JsonLogFormatter(service_name))

    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())

    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # These print full URLs, query strings included, at INFO: keep them to warnings.
    for name in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
