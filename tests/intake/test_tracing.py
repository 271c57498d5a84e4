"""One trace from the HTTP request, through the outbox relay, into a consumer's handler."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import httpx
import nats
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from intake.main import create_app
from tests.intake.conftest import Intake
from tests.intake.test_cases import CASE, Auth
from tirek.events import Envelope
from tirek.messaging.broker import create_broker, subscriber
from tirek.messaging.streams import ConsumerSpec, ensure_streams
from tirek.telemetry import setup_tracing

DEADLINE = 15.0


async def test_a_registration_is_one_trace_from_the_http_request_to_the_consumer(
    intake: Intake, auth: Auth
) -> None:
    exporter = InMemorySpanExporter()
    provider = setup_tracing("intake", exporter=exporter)
    # A second intake with its own tracer provider; it shares the database and streams with
    # the session's intake, whose relay may publish the event instead of this one's.
    app = create_app(intake.settings, tracer_provider=provider)
    naming = intake.naming
    spec = ConsumerSpec(
        f"test-trace-{uuid.uuid4().hex[:8]}", "INTAKE", ("tirek.intake.case.registered.v1",)
    )
    nc = await nats.connect(intake.settings.nats_url)
    await ensure_streams(nc.jetstream(), naming, consumers=[spec])
    consumer = create_broker(
        intake.settings, tracer_provider=provider, registry=CollectorRegistry()
    )
    #: case id -> trace id current in the handler.
    handled: dict[str, int] = {}

    @subscriber(consumer, naming, spec, batch_size=50, fetch_timeout=0.5)
    async def on_case_registered(envelope: Envelope) -> None:
        handled[envelope.subject] = trace.get_current_span().get_span_context().trace_id

    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
                response = await client.post(
                    "/v1/cases", json=CASE, headers=await auth("akt-caseworker")
                )
            assert response.status_code == 201, response.text
            case_id = response.json()["id"]

            await consumer.start()
            try:
                deadline = time.monotonic() + DEADLINE
                while case_id not in handled:
                    assert time.monotonic() < deadline, "no consumer received case.registered"
                    await asyncio.sleep(0.05)
            finally:
                await consumer.stop()
    finally:
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_consumer(spec.stream_name(naming), spec.durable(naming))
        await nc.close()

    spans = exporter.get_finished_spans()
    servers = [
        span
        for span in spans
        if span.kind is SpanKind.SERVER and (span.attributes or {}).get("http.route") == "/v1/cases"
    ]
    assert len(servers) == 1, f"expected one HTTP server span for POST /v1/cases: {spans}"
    trace_id = servers[0].context.trace_id
    assert handled[case_id] == trace_id, "the consumer's handler runs in a new trace"
    consumers = [
        span
        for span in spans
        if span.kind is SpanKind.CONSUMER and span.context.trace_id == trace_id
    ]
    assert consumers, "the consumer's span is not part of the request's trace"
