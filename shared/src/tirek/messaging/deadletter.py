"""Dead letters: messages a consumer gave up on, kept on the ``DLQ`` stream with the reason.

A dead letter is the original message body (events carry no personal data beyond what their
consumers need, and a share package is sealed) published to ``tirek.dlq.<consumer>`` with
headers that say why and where it came from. The reason holds the exception type and a
truncated message, never message data: a validation error is described by field locations and
error codes only, because pydantic's and fast_depends' messages quote the input.

:func:`read_dead_letters` is the minimal reader for tests and tooling; ``admin`` builds the
inspection and replay API on the same headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import pydantic
from fast_depends.exceptions import ValidationError as ArgumentsValidationError
from faststream.exceptions import RejectMessage, SubscriberNotFound
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from tirek.messaging.naming import Naming
from tirek.messaging.streams import DLQ_STREAM, dead_letter_subject

__all__ = [
    "HEADER_CONSUMER",
    "HEADER_DEAD_LETTERED_AT",
    "HEADER_DELIVERIES",
    "HEADER_ORIGINAL_MSG_ID",
    "HEADER_ORIGINAL_SEQUENCE",
    "HEADER_ORIGINAL_STREAM",
    "HEADER_ORIGINAL_SUBJECT",
    "HEADER_REASON",
    "DeadLetter",
    "describe_failure",
    "publish_dead_letter",
    "read_dead_letters",
]

HEADER_REASON: Final = "Tirek-Dead-Letter-Reason"
HEADER_CONSUMER: Final = "Tirek-Consumer"
HEADER_DELIVERIES: Final = "Tirek-Deliveries"
HEADER_ORIGINAL_SUBJECT: Final = "Tirek-Original-Subject"
HEADER_ORIGINAL_STREAM: Final = "Tirek-Original-Stream"
HEADER_ORIGINAL_SEQUENCE: Final = "Tirek-Original-Sequence"
HEADER_ORIGINAL_MSG_ID: Final = "Tirek-Original-Msg-Id"
HEADER_DEAD_LETTERED_AT: Final = "Tirek-Dead-Lettered-At"

#: Longest reason kept (characters).
MAX_REASON: Final = 300
# Headers of the original message worth keeping on the dead letter (for replay and tracing).
_CARRIED_HEADERS: Final = ("traceparent", "tracestate", "Content-Type", "content-type")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]+")


def _validation_summary(exc: pydantic.ValidationError) -> str:
    # Locations and error codes only: the messages and inputs may quote the payload.
    parts = [
        f"{'.'.join(str(p) for p in error['loc']) or '<root>'}: {error['type']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return f"{exc.error_count()} validation error(s): " + "; ".join(parts)


def _detail(exc: BaseException) -> str:
    if isinstance(exc, ArgumentsValidationError):
        original = exc.original_error
        if isinstance(original, pydantic.ValidationError):
            return _validation_summary(original)
        return f"invalid handler arguments ({type(original).__name__})"
    if isinstance(exc, pydantic.ValidationError):
        return _validation_summary(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, SubscriberNotFound):
        # Its message is the raw message's repr, body included.
        return "no handler of this subscriber accepts the message"
    return str(exc)


def describe_failure(exc: BaseException) -> str:
    """``"<ExceptionType>: <message>"``, one ASCII line, at most :data:`MAX_REASON` characters.

    A faststream ``RejectMessage`` raised while handling another exception is described by it.
    """
    if isinstance(exc, RejectMessage):
        cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if cause is not None:
            return f"RejectMessage <- {describe_failure(cause)}"[:MAX_REASON]
    detail = _CONTROL.sub(" ", _detail(exc)).strip()
    reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    # ASCII only: nats-py's JetStream API parses headers as e-mail headers, which turns other
    # characters into ``email.header.Header`` objects. Cyrillic survives as \uXXXX escapes.
    reason = reason.encode("ascii", "backslashreplace").decode("ascii")
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


async def publish_dead_letter(
    js: JetStreamContext,
    naming: Naming,
    *,
    consumer: str,
    msg: Msg,
    reason: str,
    publish_timeout: float = 5.0,
) -> api.PubAck:
    """Publish ``msg`` (a JetStream message ``consumer`` gave up on) to its dead-letter subject.

    Its ``Nats-Msg-Id`` is derived from the consumer and the original stream sequence, so a
    retry after a lost ack does not store it twice.
    """
    metadata = msg.metadata
    original = msg.headers or {}
    headers: dict[str, str] = {
        key: value for key, value in original.items() if key in _CARRIED_HEADERS
    }
    headers.update(
        {
            "Nats-Msg-Id": f"dlq.{naming.durable(consumer)}.{metadata.stream}."
            f"{metadata.sequence.stream}",
            HEADER_REASON: reason,
            HEADER_CONSUMER: consumer,
            HEADER_DELIVERIES: str(metadata.num_delivered),
            HEADER_ORIGINAL_SUBJECT: msg.subject,
            HEADER_ORIGINAL_STREAM: metadata.stream,
            HEADER_ORIGINAL_SEQUENCE: str(metadata.sequence.stream),
            HEADER_DEAD_LETTERED_AT: datetime.now(UTC).isoformat(),
        }
    )
    if msg_id := original.get("Nats-Msg-Id"):
        headers[HEADER_ORIGINAL_MSG_ID] = msg_id
    return await js.publish(
        dead_letter_subject(naming, consumer),
        msg.data,
        timeout=publish_timeout,
        stream=naming.stream(DLQ_STREAM),
        headers=headers,
    )


@dataclass(frozen=True)
class DeadLetter:
    """One message on the ``DLQ`` stream, as :func:`read_dead_letters` returns it."""

    sequence: int
    consumer: str
    reason: str
    deliveries: int
    original_subject: str
    original_stream: str
    original_sequence: int
    data: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The original body parsed as JSON."""
        return json.loads(self.data)


async def read_dead_letters(
    js: JetStreamContext,
    naming: Naming,
    *,
    consumer: str | None = None,
    start_sequence: int = 1,
    limit: int = 100,
) -> list[DeadLetter]:
    """Dead letters in stream order, of one consumer or of all, at most ``limit`` of them."""
    stream = naming.stream(DLQ_STREAM)
    subject = dead_letter_subject(naming, consumer or ">")
    letters: list[DeadLetter] = []
    sequence = start_sequence
    while len(letters) < limit:
        try:
            raw = await js.get_msg(stream, seq=sequence, subject=subject, next=True)
        except NotFoundError:
            break
        # str(): the JetStream API's header parser may hand back e-mail Header objects.
        headers = {str(key): str(value) for key, value in (raw.headers or {}).items()}
        letters.append(
            DeadLetter(
                sequence=raw.seq or sequence,
                consumer=headers.get(HEADER_CONSUMER, ""),
                reason=headers.get(HEADER_REASON, ""),
                deliveries=int(headers.get(HEADER_DELIVERIES, "0")),
                original_subject=headers.get(HEADER_ORIGINAL_SUBJECT, ""),
                original_stream=headers.get(HEADER_ORIGINAL_STREAM, ""),
                original_sequence=int(headers.get(HEADER_ORIGINAL_SEQUENCE, "0")),
                data=raw.data or b"",
                headers=headers,
            )
        )
        sequence = (raw.seq or sequence) + 1
    return letters
