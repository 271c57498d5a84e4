"""JSON logs carry trace ids and never personal data; requests and queries produce spans."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
import httpx
import pytest
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tirek.settings import ServiceSettings
from tirek.telemetry import (
    configure_logging,
    context_from_traceparent,
    current_traceparent,
    instrument_asyncpg,
    setup_tracing,
)
from tirek.web import create_service_app

PERSON = "Сабиров Тахир"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = setup_tracing("telemetry-test", exporter=exporter)
    yield provider
    provider.shutdown()


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """configure_logging for one test; the root logger is put back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging("telemetry-test", "DEBUG")
    yield capsys
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_personal_fields_in_extra_never_reach_the_log(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    logging.getLogger("intake.cases").info(
        "case registered",
        extra={"full_name": PERSON, "phone": "+77011234567", "case_id": "c-42"},
    )
    out = json_logs.readouterr().out
    assert PERSON not in out
    assert "+77011234567" not in out
    [line] = [json.loads(raw) for raw in out.splitlines()]
    assert line["message"] == "case registered"
    assert line["case_id"] == "c-42"
    assert line["service"] == "telemetry-test"
    assert line["level"] == "INFO"
    assert line["logger"] == "intake.cases"
    assert "full_name" not in line


def test_logged_exception_gives_type_and_traceback_not_its_message(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    person = PERSON
    try:
        raise ValueError(f"duplicate person {person}")
    except ValueError:
        logging.getLogger("intake.cases").exception("registration failed")
    out = json_logs.readouterr().out
    assert PERSON not in out
    [line] = [json.loads(raw) for raw in out.splitlines()]
    assert line["exc_type"] == "builtins.ValueError"
    assert "test_telemetry.py" in str(line["traceback"])


def test_log_line_inside_a_span_carries_its_trace_and_span_ids(
    json_logs: pytest.CaptureFixture[str], provider: TracerProvider
) -> None:
    log = logging.getLogger("referral.handlers")
    log.info("outside")
    with provider.get_tracer("test").start_as_current_span("handle") as span:
        log.info("inside")
    outside, inside = log_lines(json_logs)
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in outside


def test_traceparent_continues_the_trace_in_another_task(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("test")
    assert current_traceparent() is None
    with tracer.start_as_current_span("publish") as publisher:
        traceparent = current_traceparent()
    assert traceparent is not None
    with tracer.start_as_current_span(
        "consume", context=context_from_traceparent(traceparent)
    ) as consumer:
        pass
    assert consumer.get_span_context().trace_id == publisher.get_span_context().trace_id
    assert isinstance(consumer, ReadableSpan)
    assert consumer.parent is not None
    assert consumer.parent.span_id == publisher.get_span_context().span_id


def test_without_an_exporter_spans_are_not_recorded_but_their_trace_ids_still_travel(
    monkeypatch: pytest.MonkeyPatch, json_logs: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    tracer = setup_tracing("test").get_tracer("test")
    with tracer.start_as_current_span("publish") as publisher:
        assert not publisher.is_recording()
        traceparent = current_traceparent()
        logging.getLogger("tirek.test").info("published")
    assert traceparent is not None
    trace_id = publisher.get_span_context().trace_id
    assert traceparent.split("-")[1] == f"{trace_id:032x}"
    with tracer.start_as_current_span(
        "consume", context=context_from_traceparent(traceparent)
    ) as consumer:
        assert consumer.get_span_context().trace_id == trace_id
    assert log_lines(json_logs)[-1]["trace_id"] == f"{trace_id:032x}"


def test_malformed_traceparent_starts_a_new_trace(provider: TracerProvider) -> None:
    with provider.get_tracer("test").start_as_current_span(
        "consume", context=context_from_traceparent("not-a-traceparent")
    ) as span:
        assert isinstance(span, ReadableSpan)
        assert span.parent is None


async def test_request_creates_a_server_span_without_the_query_string(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = create_service_app(ServiceSettings(), title="t", version="0", tracer_provider=provider)

    @app.get("/persons/{person_id}")
    async def read_person(person_id: str) -> dict[str, str]:
        return {"id": person_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/persons/p1", params={"q": PERSON})).status_code == 200
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200

    spans = exporter.get_finished_spans()
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.name == "GET /persons/{person_id}"
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/persons/{person_id}"
    assert server.resource.attributes["service.name"] == "telemetry-test"
    flat = json.dumps({s.name: dict(s.attributes or {}) for s in spans}, ensure_ascii=False)
    assert PERSON not in flat
    assert "q=" not in flat


@pytest.fixture
async def asyncpg_instrumented(provider: TracerProvider) -> AsyncIterator[None]:
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if instrumentor.is_instrumented_by_opentelemetry:
        pytest.skip("asyncpg already instrumented in this process by another provider")
    instrument_asyncpg(provider)
    instrument_asyncpg(provider)  # idempotent: a second call changes nothing
    yield
    instrumentor.uninstrument()


async def test_asyncpg_queries_become_spans_without_their_parameters(
    asyncpg_instrumented: None, exporter: InMemorySpanExporter, pg_admin_dsn: str
) -> None:
    connection = await asyncpg.connect(pg_admin_dsn)
    try:
        assert await connection.fetchval("SELECT $1::text", PERSON) == PERSON
    finally:
        await connection.close()
    query_spans = [
        s for s in exporter.get_finished_spans() if "SELECT $1::text" in str(s.attributes)
    ]
    assert len(query_spans) == 1, [s.name for s in exporter.get_finished_spans()]
    flat = json.dumps(
        [dict(s.attributes or {}) for s in exporter.get_finished_spans()], ensure_ascii=False
    )
    assert PERSON not in flat


async def test_unhandled_exception_is_logged_once_with_the_trace_id_and_no_request_data(
    json_logs: pytest.CaptureFixture[str],
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    app = create_service_app(ServiceSettings(), title="t", version="0", tracer_provider=provider)

    @app.post("/persons")
    async def register(body: dict[str, str]) -> None:
        raise RuntimeError(f"could not store {body['full_name']}")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/persons",
            json={"full_name": PERSON},
            headers={"Authorization": "Bearer secret-token-value"},
        )
    assert response.status_code == 500

    out = json_logs.readouterr().out
    assert PERSON not in out
    assert "secret-token-value" not in out
    lines = [json.loads(raw) for raw in out.splitlines()]
    [error] = [line for line in lines if line["level"] == "ERROR"]
    [server] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert error["exc_type"] == "builtins.RuntimeError"
    assert error["trace_id"] == format(server.context.trace_id, "032x")
    assert error["route"] == "/persons"
    assert not server.status.is_ok
    [access] = [line for line in lines if line["logger"] == "tirek.web.requests"]
    assert access["status"] == 500
    assert access["route"] == "/persons"


def test_otlp_endpoint_from_the_environment_receives_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[str] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            received.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        provider = setup_tracing("otlp-test")
        with provider.get_tracer("test").start_as_current_span("work"):
            pass
        assert provider.force_flush(10_000)
        provider.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    assert received == ["/v1/traces"]


def test_without_exporter_or_endpoint_spans_still_carry_trace_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    provider = setup_tracing("quiet")
    with provider.get_tracer("test").start_as_current_span("work"):
        assert current_traceparent() is not None


async def test_without_exporter_a_request_continues_the_callers_trace_at_small_cost(
    json_logs: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    provider = setup_tracing("quiet")
    app = create_service_app(ServiceSettings(), title="t", version="0", tracer_provider=provider)
    seen: list[str | None] = []

    @app.get("/persons/{person_id}")
    async def read_person(person_id: str) -> dict[str, str]:
        seen.append(current_traceparent())  # what an outbox row of this request would keep
        return {"id": person_id}

    # The instrumentor's middleware (attributes, metrics of spans nobody records) is not there.
    layers = [m.cls.__name__ for m in app.user_middleware]
    assert layers[0] == "TraceContextMiddleware", layers  # outermost: every log line has the id
    assert "OpenTelemetryMiddleware" not in layers, layers
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/persons/p1", headers={"traceparent": caller})).status_code == 200
        assert (await client.get("/persons/p2")).status_code == 200
    first, second = [
        line for line in log_lines(json_logs) if line["logger"] == "tirek.web.requests"
    ]
    assert first["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert seen[0] is not None and seen[0].split("-")[1] == first["trace_id"]
    assert seen[0].split("-")[2] != "b7ad6b7169203331", "the request's span is the caller's child"
    assert second["trace_id"] not in (None, first["trace_id"]), "no header: a trace of its own"
    assert seen[1] is not None and seen[1].split("-")[1] == second["trace_id"]
