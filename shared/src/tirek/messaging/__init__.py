"""Messaging kernel: streams and consumers, the broker, outbox, inbox and dead letters.

- :mod:`~tirek.messaging.streams` — the one declaration of streams and durable consumers
  (:class:`ConsumerSpec`, :func:`register_consumer`, :func:`ensure_streams`).
- :mod:`~tirek.messaging.broker` — :func:`create_broker` and :func:`subscriber` (durable pull
  subscriber verifying every event first (:func:`verify_event`), with backoff, in-place
  retries through a database outage, and dead-lettering).
- :mod:`~tirek.messaging.outbox` — :func:`add_to_outbox` and :class:`OutboxRelay`.
- :mod:`~tirek.messaging.inbox` — :func:`first_delivery`.
- :mod:`~tirek.messaging.deadletter` — dead-letter headers and :func:`read_dead_letters`.
- :mod:`~tirek.messaging.tables` — the ``outbox``/``inbox`` tables and
  :func:`create_messaging_tables` for a service's first migration.
- :mod:`~tirek.messaging.naming` — :class:`Naming` (namespaces for test runs).
"""

from tirek.messaging.broker import (
    PERMANENT_ERRORS,
    SubjectMismatch,
    create_broker,
    subscriber,
    verify_event,
)
from tirek.messaging.deadletter import DeadLetter, describe_failure, read_dead_letters
from tirek.messaging.inbox import first_delivery
from tirek.messaging.naming import Naming
from tirek.messaging.outbox import OutboxRelay, add_to_outbox, purge_published
from tirek.messaging.streams import (
    CONSUMERS,
    DLQ_STREAM,
    DUPLICATE_WINDOW,
    INTAKE_TENANTS,
    STREAMS,
    ConsumerSpec,
    ProvisioningError,
    dead_letter_subject,
    ensure_streams,
    register_consumer,
    stream_configs,
)
from tirek.messaging.tables import (
    NOTIFY_CHANNEL,
    create_messaging_tables,
    drop_messaging_tables,
    inbox,
    messaging_metadata,
    outbox,
)

__all__ = [
    "CONSUMERS",
    "DLQ_STREAM",
    "DUPLICATE_WINDOW",
    "INTAKE_TENANTS",
    "NOTIFY_CHANNEL",
    "PERMANENT_ERRORS",
    "STREAMS",
    "ConsumerSpec",
    "DeadLetter",
    "Naming",
    "OutboxRelay",
    "ProvisioningError",
    "SubjectMismatch",
    "add_to_outbox",
    "create_broker",
    "create_messaging_tables",
    "dead_letter_subject",
    "describe_failure",
    "drop_messaging_tables",
    "ensure_streams",
    "first_delivery",
    "inbox",
    "messaging_metadata",
    "outbox",
    "purge_published",
    "read_dead_letters",
    "register_consumer",
    "stream_configs",
    "subscriber",
    "verify_event",
]
