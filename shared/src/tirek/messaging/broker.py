"""The FastStream broker every service uses, and durable pull subscribers with dead-lettering.

:func:`create_broker` sets what PITFALLS.md asks for: a failing handler's message is NAK-ed
(redelivered), never silently dropped (FastStream's NATS default terminates it); the client
reconnects forever (pull subscriptions can go silent after a server restart otherwise);
OpenTelemetry and Prometheus middlewares are on.

:func:`subscriber` binds a handler to a :class:`~tirek.messaging.streams.ConsumerSpec`::

    broker = create_broker(settings, tracer_provider=provider)
    naming = Naming(settings.namespace)

    @subscriber(broker, naming, INTAKE_TENANTS)
    async def on_tenant_event(envelope: Envelope) -> None: ...

It never declares a stream (``JStream(name, declare=False)``) and always names the durable, so
it binds to the consumer :func:`~tirek.messaging.streams.ensure_streams` provisioned (or
creates it with the spec's config if provisioning has not run).

Before the handler sees a message, the subscriber verifies it as an event (unless
``verify=False``, for tests of delivery itself): a JSON envelope, published on the subject its
type, version and source name (:class:`SubjectMismatch`), of a registered ``(type, version)``,
whose data passes the contract and whose tenant is one of the contract's parties
(:class:`~tirek.events.ForgedTenant`). A message failing any of these is dead-lettered on its
first delivery, whether or not the handler would have looked at its type. Failures are
settled per message:

- the handler raised and deliveries are left: NAK with the spec's backoff delay;
- the last allowed delivery failed, or the message can never succeed (faststream
  ``RejectMessage``, a validation error, an unknown event type, a body that is not JSON, no
  handler whose filter accepts it; see :data:`PERMANENT_ERRORS`):
  the message is published to ``tirek.dlq.<consumer>`` with the reason
  (:mod:`tirek.messaging.deadletter`) and then terminated, so the consumer moves on.

A handler that fails because the database cannot be reached (a restart, a failover: see
:func:`tirek.db.database_unavailable`) is not the message's fault: it is retried in place,
with backoff, telling the server it is still in progress, until the database answers; it
spends none of the message's bounded deliveries, so an outage longer than the backoff budget
dead-letters nothing. The other messages of the batch wait likewise (nothing else could
succeed meanwhile); a service stopping meanwhile leaves the message unacknowledged, for
redelivery.

If publishing the dead letter fails the message is NAK-ed instead (nothing is lost while
deliveries are left; after the last one it stays in its stream, the server stops redelivering
it and emits a max-deliveries advisory, and an error is logged with its stream sequence).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any, Final

import pydantic
from fast_depends.exceptions import ValidationError as ArgumentsValidationError
from faststream import AckPolicy
from faststream._internal.middlewares import BaseMiddleware
from faststream.exceptions import (
    HandlerException,
    IgnoredException,
    NackMessage,
    RejectMessage,
    SubscriberNotFound,
)
from faststream.nats import JStream, NatsBroker, NatsRouter, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from faststream.security import SASLPlaintext
from nats.aio.msg import Msg
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import REGISTRY, CollectorRegistry

from tirek.db.engine import database_unavailable
from tirek.events.envelope import Envelope, ForgedTenant
from tirek.events.registry import UnknownEventType
from tirek.messaging.deadletter import describe_failure, publish_dead_letter
from tirek.messaging.naming import Naming, inbox_prefix
from tirek.messaging.streams import ConsumerSpec
from tirek.settings import ServiceSettings
from tirek.telemetry import records_nothing

if TYPE_CHECKING:
    from types import TracebackType

    from faststream._internal.basic_types import AsyncFuncAny
    from faststream._internal.context.repository import ContextRepo
    from faststream.message import StreamMessage
    from faststream.nats.subscriber.usecases import PullStreamSubscriber
    from opentelemetry.trace import TracerProvider

__all__ = [
    "PERMANENT_ERRORS",
    "SubjectMismatch",
    "create_broker",
    "nats_connect_options",
    "subscriber",
    "verify_event",
]

_log = logging.getLogger("tirek.messaging")
_PROPAGATOR: Final = TraceContextTextMapPropagator()
#: Longest pause between two in-place retries of a handler while the database is unreachable.
MAX_OUTAGE_PAUSE: Final = 5.0


class SubjectMismatch(ValueError):
    """The envelope's type, version or source is not what the subject it came on says."""


#: Failures that no redelivery can cure: dead-lettered on the first delivery.
PERMANENT_ERRORS: Final[tuple[type[Exception], ...]] = (
    RejectMessage,
    ArgumentsValidationError,
    pydantic.ValidationError,
    UnknownEventType,
    ForgedTenant,
    SubjectMismatch,
    json.JSONDecodeError,
    UnicodeDecodeError,
    SubscriberNotFound,
)


def nats_connect_options(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments of ``nats.connect`` for the service's own NATS user: user, password
    and the user's inbox prefix (``_INBOX.<user>``, the only replies its permissions let it
    receive; :mod:`tirek.messaging.permissions`). Empty without ``TIREK_NATS_USER``."""
    if not settings.nats_user:
        return {}
    password = settings.nats_password.get_secret_value() if settings.nats_password else ""
    return {
        "user": settings.nats_user,
        "password": password,
        "inbox_prefix": inbox_prefix(settings.nats_user),
    }


def verify_event(naming: Naming, subject: str, body: bytes) -> Envelope:
    """``body`` as a verified event that arrived on ``subject``; raises a permanent error.

    Checks what every consumer relies on, so that no handler applies a hostile event: the
    envelope's shape, its subject (the publisher's permissions are per subject), its
    registered contract, and its tenant against the contract's parties.
    """
    envelope = Envelope.model_validate(json.loads(body))
    if naming.strip(subject) != envelope.subject_name:
        # The envelope's own fields are not quoted: they are the sender's free text.
        raise SubjectMismatch(
            "the envelope's type, version or source does not match the subject it came on"
        )
    envelope.payload()
    return envelope


class _TraceContextPolicy:
    """FastStream middleware factory: :class:`_TraceContext` with the provider's tracer."""

    def __init__(self, tracer_provider: TracerProvider) -> None:
        self.tracer = tracer_provider.get_tracer("tirek.messaging")

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> _TraceContext:
        return _TraceContext(msg, context=context, tracer=self.tracer)


class _TraceContext(BaseMiddleware):
    """The trace context of a consumed message, where no span is recorded: the producer's
    W3C ``traceparent`` header continued (else a new trace) as the current span while the
    handler runs, so its log lines and the events it writes carry the producer's trace id.

    What FastStream's telemetry middleware gives a message when the tracer provider records
    nothing (:func:`tirek.telemetry.records_nothing`), without what it does for a recorded
    span (attributes, metrics): about a tenth of notification's and reporting's CPU per
    event (``make bench``, py-spy). :class:`tirek.web.middleware.TraceContextMiddleware` does
    the same for requests.
    """

    def __init__(self, msg: Any, /, *, context: ContextRepo, tracer: trace.Tracer) -> None:
        super().__init__(msg, context=context)
        self._tracer = tracer

    async def consume_scope(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        headers = msg.headers or {}
        parent = _PROPAGATOR.extract(headers) if "traceparent" in headers else None
        span = self._tracer.start_span(
            "consume", context=parent, kind=trace.SpanKind.CONSUMER, record_exception=False
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            return await call_next(msg)
        finally:
            otel_context.detach(token)


def create_broker(
    settings: ServiceSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    registry: CollectorRegistry | None = None,
) -> NatsBroker:
    """A ``NatsBroker`` for ``settings.nats_url`` with Tirek's delivery and telemetry settings.

    ``tracer_provider`` defaults to the global one; ``registry`` (Prometheus) to the default
    registry. A provider that records nothing gets only the trace context of each message
    (:class:`_TraceContext`), not FastStream's telemetry middleware. Start and stop it in the FastAPI lifespan (the FastStream FastAPI router is
    deprecated). Register handlers with :func:`subscriber`. Connects as the service's own
    NATS user when one is configured (:func:`nats_connect_options`).
    """
    options = nats_connect_options(settings)
    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    telemetry: Any = (
        _TraceContextPolicy(provider)
        if records_nothing(provider)
        else NatsTelemetryMiddleware(tracer_provider=tracer_provider)
    )
    return NatsBroker(
        settings.nats_servers,
        name=settings.service_name,
        security=(
            SASLPlaintext(username=options["user"], password=options["password"])
            if options
            else None
        ),
        inbox_prefix=options.get("inbox_prefix", "_INBOX"),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_reconnect_attempts=-1,
        # FastStream's "Received"/"Processed" line per message at DEBUG: at INFO it was a tenth
        # of a consumer's CPU (make bench). Failures are still logged by the dead-letter policy.
        log_level=logging.DEBUG,
        middlewares=(
            telemetry,
            NatsPrometheusMiddleware(
                registry=registry if registry is not None else REGISTRY,
                app_name=settings.service_name,
            ),
        ),
    )


def subscriber(
    broker: NatsBroker,
    naming: Naming,
    spec: ConsumerSpec,
    *,
    batch_size: int = 1,
    fetch_timeout: float = 5.0,
    title: str | None = None,
    description: str | None = None,
    verify: bool = True,
) -> PullStreamSubscriber:
    """A durable pull subscriber for ``spec``; use it as a decorator on the handler.

    ``batch_size`` messages are fetched at a time and handled concurrently; ``fetch_timeout``
    is how long one fetch waits for messages. Verification of events (``verify``),
    dead-lettering and backoff are described in the module docstring.
    """
    subjects = spec.subjects(naming)
    router = NatsRouter(middlewares=(_DeadLetterPolicy(broker, naming, spec, verify=verify),))
    handler: PullStreamSubscriber = router.subscriber(  # type: ignore[call-overload]
        # Several filters travel in the consumer config; FastStream then needs no subject.
        subjects[0] if len(subjects) == 1 else "",
        stream=JStream(spec.stream_name(naming), declare=False),
        durable=spec.durable(naming),
        config=spec.consumer_config(naming),
        pull_sub=PullSub(batch_size=batch_size, timeout=fetch_timeout),
        # None: nats-py then takes the connection's inbox prefix (the service user's
        # ``_INBOX.<user>``), where FastStream would pass the global ``_INBOX.`` and the
        # service's NATS permissions would refuse the fetched messages.
        inbox_prefix=None,
        title=title or spec.name,
        description=description,
    )
    broker.include_router(router)
    return handler


class _DeadLetterPolicy:
    """FastStream middleware factory: settles one consumer's failed messages."""

    def __init__(
        self, broker: NatsBroker, naming: Naming, spec: ConsumerSpec, *, verify: bool
    ) -> None:
        self.broker = broker
        self.naming = naming
        self.spec = spec
        self.verify = verify

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> _DeadLetterMiddleware:
        return _DeadLetterMiddleware(msg, context=context, policy=self)

    async def settle(self, raw: Msg, exc: BaseException, *, permanent: bool) -> HandlerException:
        """NAK with backoff while deliveries are left, else dead-letter and terminate."""
        spec = self.spec
        delivered = raw.metadata.num_delivered
        log_fields = {
            "consumer": spec.name,
            "subject": raw.subject,
            "stream": raw.metadata.stream,
            "attempt": delivered,
            "error_type": type(exc).__name__,
        }
        if not permanent and delivered < spec.max_deliver:
            _log.warning("handler failed; redelivery scheduled", extra=log_fields, exc_info=exc)
            return NackMessage(delay=spec.redelivery_delay(delivered))
        try:
            await publish_dead_letter(
                self.broker.connection.jetstream(),
                self.naming,
                consumer=spec.name,
                msg=raw,
                reason=describe_failure(exc),
            )
        except Exception:
            _log.exception(
                "could not dead-letter a message (stream sequence %d); NAK-ed instead",
                raw.metadata.sequence.stream,
                extra=log_fields,
            )
            return NackMessage(delay=spec.redelivery_delay(delivered))
        _log.warning("message dead-lettered", extra=log_fields, exc_info=exc)
        return RejectMessage()


class _DatabaseUnavailable(Exception):
    """The handler failed because the database cannot be reached: retry it in place."""

    def __init__(self, error_type: str) -> None:
        super().__init__(error_type)
        self.error_type = error_type


class _DeadLetterMiddleware(BaseMiddleware):
    """Per-message: turns a handler failure into a NAK with delay or a dead letter."""

    def __init__(self, msg: Any, /, *, context: ContextRepo, policy: _DeadLetterPolicy) -> None:
        super().__init__(msg, context=context)
        #: The raw JetStream message (pull subscribers hand one message to each middleware).
        self._raw: Msg = msg
        self._policy = policy
        self._settled = False

    async def consume_scope(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        if self._policy.verify:
            try:
                verify_event(self._policy.naming, self._raw.subject, self._raw.data)
            except Exception as exc:
                self._settled = True
                raise await self._policy.settle(self._raw, exc, permanent=True) from exc
        pause = 0.25
        # At most half the ack wait between two "in progress" signals.
        longest = min(MAX_OUTAGE_PAUSE, self._policy.spec.ack_wait / 2)
        while True:
            try:
                return await self._handle(call_next, msg)
            except _DatabaseUnavailable as outage:
                _log.warning(
                    "database unavailable; handler retried in place",
                    extra={"consumer": self._policy.spec.name, "error_type": outage.error_type},
                )
                with contextlib.suppress(Exception):
                    await self._raw.in_progress()
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest)

    async def _handle(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        try:
            return await call_next(msg)
        except NackMessage as exc:
            # The handler asked for a retry: honoured while deliveries are left.
            self._settled = True
            if self._raw.metadata.num_delivered < self._policy.spec.max_deliver:
                raise
            raise await self._policy.settle(self._raw, exc, permanent=True) from exc
        except RejectMessage as exc:
            self._settled = True
            raise await self._policy.settle(self._raw, exc, permanent=True) from exc
        except IgnoredException:
            raise
        except Exception as exc:
            if database_unavailable(exc):
                raise _DatabaseUnavailable(type(exc).__name__) from exc
            self._settled = True
            # The telemetry middleware outside sees only the NAK/reject; keep the real error.
            trace.get_current_span().record_exception(exc)
            permanent = isinstance(exc, PERMANENT_ERRORS)
            raise await self._policy.settle(self._raw, exc, permanent=permanent) from exc

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        # Failures before any handler was chosen (no handler's filter accepts the message, the
        # parser failed) never pass through consume_scope; no redelivery cures them either.
        if (
            self._settled
            or not isinstance(exc_val, Exception)
            or isinstance(exc_val, IgnoredException)
        ):
            return False
        raw = self._raw
        outcome = await self._policy.settle(raw, exc_val, permanent=True)
        if isinstance(outcome, NackMessage):
            await raw.nak(**outcome.extra_options)
        else:
            await raw.term()
        return True
