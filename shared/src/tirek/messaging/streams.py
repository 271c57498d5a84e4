"""The one place where JetStream streams and durable consumers are declared.

Services never declare streams (a declaring ``NatsBroker`` rewrites a stream's config with its
own on start, PITFALLS.md) and never rely on ``pull_subscribe`` to update a durable consumer
(nats-py binds to an existing durable and ignores a changed config). Instead ``make run``,
the tests and the deployment's one-shot job call :func:`ensure_streams` (or
``python -m tirek.messaging.streams``), which creates or updates every stream and every
registered consumer.

Streams: one per producing service (``INTAKE`` holds ``tirek.intake.>``, ...) plus ``DLQ``
(``tirek.dlq.<consumer>``). File storage, limits retention, no age limit by default (every
projection must be rebuildable by replay), a two-minute duplicate window for ``Nats-Msg-Id``.

Consumers are data (:class:`ConsumerSpec`), registered with :func:`register_consumer` in the
kernel so that the provisioning job knows all of them without importing any service.

What an update cannot change (the server refuses, :func:`ensure_streams` raises
:class:`ProvisioningError` naming the stream or consumer): a stream's storage type and
retention policy; a consumer's deliver policy, ack policy and replay policy (none of which a
spec sets, so only a hand-made consumer of the same name can clash). Delete such a consumer
(its position is lost) or migrate the stream by hand. Everything a :class:`ConsumerSpec` holds
(filters, ``max_deliver``, ``ack_wait``) is updated in place, keeping the consumer's position.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import nats
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError

from tirek.messaging.naming import Naming

__all__ = [
    "CONSUMERS",
    "DLQ_STREAM",
    "DUPLICATE_WINDOW",
    "STREAMS",
    "ConsumerSpec",
    "ProvisioningError",
    "dead_letter_subject",
    "ensure_streams",
    "register_consumer",
    "stream_configs",
]

#: Stream name -> the (un-namespaced) subjects it captures.
STREAMS: Final[dict[str, str]] = {
    "INTAKE": "tirek.intake.>",
    "REFERRAL": "tirek.referral.>",
    "NOTIFICATION": "tirek.notification.>",
    "REPORTING": "tirek.reporting.>",
    "ADMIN": "tirek.admin.>",
    "DLQ": "tirek.dlq.>",
}
DLQ_STREAM: Final = "DLQ"
#: Seconds within which JetStream drops a second message with the same ``Nats-Msg-Id``.
DUPLICATE_WINDOW: Final = 120.0

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ProvisioningError(RuntimeError):
    """A stream or consumer could not be brought to the declared configuration."""


def dead_letter_subject(naming: Naming, consumer: str) -> str:
    """The (namespaced) subject a consumer's dead letters go to: ``tirek.dlq.<consumer>``."""
    return naming.subject(f"tirek.dlq.{consumer}")


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer: which stream, which subjects, how often to retry.

    ``max_deliver`` bounds deliveries (the first one included); after the last failed one the
    message is dead-lettered (:mod:`tirek.messaging.broker`). ``backoff[i]`` is the delay in
    seconds before delivery ``i + 2`` after a handler failure (the last value repeats).
    ``ack_wait`` is how long the server waits for an ack before redelivering (a crashed
    consumer, or a handler slower than this without ``in_progress()``).

    The backoff is applied by the subscriber as a NAK delay, not sent to the server as the
    consumer's ``backoff``: the server would then replace ``ack_wait`` with ``backoff[0]``
    (one second) and redeliver every handler slower than that while it still runs, and a NAK
    without a delay is redelivered at once whatever the server-side backoff (checked on
    nats-server 2.9 and 2.15).
    """

    name: str
    stream: str
    filter_subjects: tuple[str, ...]
    max_deliver: int = 5
    backoff: tuple[float, ...] = (1, 2, 5, 10)
    ack_wait: float = 30

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"consumer name must match {_NAME.pattern}: {self.name!r}")
        if self.stream not in STREAMS:
            raise ValueError(f"unknown stream {self.stream!r} (known: {', '.join(STREAMS)})")
        if not self.filter_subjects:
            raise ValueError(f"consumer {self.name!r} needs at least one filter subject")
        prefix = STREAMS[self.stream].removesuffix(">")
        for subject in self.filter_subjects:
            if not subject.startswith(prefix):
                raise ValueError(
                    f"consumer {self.name!r}: {subject!r} is not in stream {self.stream} "
                    f"({STREAMS[self.stream]})"
                )
        if self.max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        if any(delay < 0 for delay in self.backoff):
            raise ValueError("backoff delays must not be negative")
        if self.ack_wait <= 0:
            raise ValueError("ack_wait must be positive")

    def durable(self, naming: Naming) -> str:
        """The durable consumer name on the server."""
        return naming.durable(self.name)

    def stream_name(self, naming: Naming) -> str:
        """The stream name on the server."""
        return naming.stream(self.stream)

    def subjects(self, naming: Naming) -> list[str]:
        """The filter subjects on the server."""
        return [naming.subject(subject) for subject in self.filter_subjects]

    def redelivery_delay(self, delivered: int) -> float | None:
        """Seconds to wait before redelivering after failed delivery number ``delivered``."""
        if not self.backoff:
            return None
        return float(self.backoff[min(delivered, len(self.backoff)) - 1])

    def consumer_config(self, naming: Naming) -> api.ConsumerConfig:
        """The full server-side config of this consumer (explicit ack, deliver all)."""
        subjects = self.subjects(naming)
        durable = self.durable(naming)
        return api.ConsumerConfig(
            name=durable,
            durable_name=durable,
            description=f"tirek consumer {self.name}",
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=float(self.ack_wait),
            max_deliver=self.max_deliver,
            # One filter goes in filter_subject: filter_subjects needs nats-server >= 2.10.
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
            replay_policy=api.ReplayPolicy.INSTANT,
        )


#: Every consumer the platform runs; :func:`ensure_streams` provisions these by default.
CONSUMERS: list[ConsumerSpec] = []


def register_consumer(spec: ConsumerSpec) -> ConsumerSpec:
    """Add ``spec`` to :data:`CONSUMERS` (idempotent for an identical spec) and return it."""
    for existing in CONSUMERS:
        if existing.name == spec.name:
            if existing != spec:
                raise ValueError(f"two different specs for consumer {spec.name!r}")
            return existing
    CONSUMERS.append(spec)
    return spec


# Every consumer of the platform, by consuming service. One filter subject each: several
# filters on one consumer need nats-server >= 2.10 and machines still run 2.9.

# intake keeps its copy of the tenant directory from admin's tenant.* events.
INTAKE_TENANTS: Final = register_consumer(
    ConsumerSpec("intake-tenants", "ADMIN", ("tirek.admin.tenant.>",))
)
# intake keeps the sharing agreements from admin's agreement.* events: a partner NGO's
# duplicate hint is shown only where an agreement in force lets the asking NGO refer to it.
INTAKE_AGREEMENTS: Final = register_consumer(
    ConsumerSpec("intake-agreements", "ADMIN", ("tirek.admin.agreement.>",))
)
# intake prepares share packages (referral.approved) and opens linked cases (referral.accepted).
INTAKE_REFERRALS: Final = register_consumer(
    ConsumerSpec("intake-referrals", "REFERRAL", ("tirek.referral.referral.>",))
)

# intake clears the copy a receiving NGO's linked case holds of a person erased by the sender.
INTAKE_PERSONS: Final = register_consumer(
    ConsumerSpec("intake-persons", "INTAKE", ("tirek.intake.person.>",))
)

# referral attaches share packages; it is the only consumer of share.* (sealed personal data).
REFERRAL_SHARES: Final = register_consumer(
    ConsumerSpec("referral-shares", "INTAKE", ("tirek.intake.share.>",))
)
# referral purges packages when the consent they were shared under is withdrawn.
REFERRAL_CONSENTS: Final = register_consumer(
    ConsumerSpec("referral-consents", "INTAKE", ("tirek.intake.consent.>",))
)
# referral purges the share packages (and free text) of referrals about an erased person.
REFERRAL_PERSONS: Final = register_consumer(
    ConsumerSpec("referral-persons", "INTAKE", ("tirek.intake.person.>",))
)
# referral keeps the partner directory and sharing agreements from admin's events.
REFERRAL_ADMIN: Final = register_consumer(
    ConsumerSpec("referral-admin", "ADMIN", ("tirek.admin.>",))
)

# notification decides who hears of what.
NOTIFICATION_REFERRALS: Final = register_consumer(
    ConsumerSpec("notification-referrals", "REFERRAL", ("tirek.referral.>",))
)
NOTIFICATION_CASES: Final = register_consumer(
    ConsumerSpec("notification-cases", "INTAKE", ("tirek.intake.case.>",))
)
NOTIFICATION_ADMIN: Final = register_consumer(
    ConsumerSpec("notification-admin", "ADMIN", ("tirek.admin.>",))
)

# reporting projects every de-identified event (never share.*, which it has no use for).
REPORTING_CASES: Final = register_consumer(
    ConsumerSpec("reporting-cases", "INTAKE", ("tirek.intake.case.>",))
)
REPORTING_ASSISTANCE: Final = register_consumer(
    ConsumerSpec("reporting-assistance", "INTAKE", ("tirek.intake.assistance.>",))
)
REPORTING_CONTACTS: Final = register_consumer(
    ConsumerSpec("reporting-contacts", "INTAKE", ("tirek.intake.contact.>",))
)
REPORTING_REFERRALS: Final = register_consumer(
    ConsumerSpec("reporting-referrals", "REFERRAL", ("tirek.referral.>",))
)
REPORTING_ADMIN: Final = register_consumer(
    ConsumerSpec("reporting-admin", "ADMIN", ("tirek.admin.>",))
)


def stream_configs(
    naming: Naming, *, replicas: int = 1, max_age: float = 0
) -> list[api.StreamConfig]:
    """The declared config of every stream. ``max_age`` in seconds, 0 keeps messages forever."""
    return [
        api.StreamConfig(
            name=naming.stream(name),
            description=f"tirek {name.lower()} events",
            subjects=[naming.subject(subjects)],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            discard=api.DiscardPolicy.OLD,
            max_age=max_age,
            duplicate_window=DUPLICATE_WINDOW,
            num_replicas=replicas,
        )
        for name, subjects in STREAMS.items()
    ]


async def ensure_streams(
    js: JetStreamContext,
    naming: Naming,
    *,
    replicas: int = 1,
    consumers: Iterable[ConsumerSpec] | None = None,
    max_age: float = 0,
) -> None:
    """Create or update every stream and durable consumer to the declared config.

    Idempotent. ``consumers`` defaults to :data:`CONSUMERS`. ``replicas`` is 1 on one
    machine, 3 in a cluster; ``max_age`` (seconds, 0 = forever) bounds retention.
    Raises :class:`ProvisioningError` when the server refuses a change (see module doc).
    """
    for config in stream_configs(naming, replicas=replicas, max_age=max_age):
        await _ensure_stream(js, config)
    for spec in CONSUMERS if consumers is None else consumers:
        await _ensure_consumer(js, naming, spec)


async def _ensure_stream(js: JetStreamContext, config: api.StreamConfig) -> None:
    try:
        await js.update_stream(config)
        return
    except NotFoundError:
        pass
    except APIError as exc:
        raise ProvisioningError(f"stream {config.name}: {exc.description}") from exc
    try:
        await js.add_stream(config)
    except APIError as exc:
        raise ProvisioningError(f"stream {config.name}: {exc.description}") from exc


async def _ensure_consumer(js: JetStreamContext, naming: Naming, spec: ConsumerSpec) -> None:
    stream = spec.stream_name(naming)
    config = spec.consumer_config(naming)
    try:
        # Same name: the server creates the consumer, or updates it in place.
        info = await js.add_consumer(stream, config)
    except APIError as exc:
        raise ProvisioningError(f"consumer {config.durable_name}: {exc.description}") from exc
    applied = info.config
    wanted = spec.subjects(naming)
    got = applied.filter_subjects or ([applied.filter_subject] if applied.filter_subject else [])
    # nats-server < 2.10 silently ignores filter_subjects and would deliver the whole stream.
    if sorted(got) != sorted(wanted):
        raise ProvisioningError(
            f"consumer {config.durable_name}: server kept filters {got}, wanted {wanted} "
            "(several filter subjects need nats-server >= 2.10)"
        )
    if applied.max_deliver != spec.max_deliver:
        raise ProvisioningError(
            f"consumer {config.durable_name}: server kept max_deliver {applied.max_deliver}"
        )


async def main(argv: Sequence[str] | None = None) -> None:
    """The provisioning command: ``python -m tirek.messaging.streams --help``."""
    parser = argparse.ArgumentParser(
        prog="python -m tirek.messaging.streams",
        description="Create or update Tirek's JetStream streams and durable consumers.",
    )
    parser.add_argument(
        "--nats-url", default=os.environ.get("TIREK_NATS_URL", "nats://127.0.0.1:4222")
    )
    parser.add_argument("--namespace", default=os.environ.get("TIREK_NAMESPACE", ""))
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument(
        "--max-age", type=float, default=0, help="seconds a message is kept; 0 keeps forever"
    )
    args = parser.parse_args(argv)
    naming = Naming(args.namespace)
    nc = await nats.connect(args.nats_url, connect_timeout=5, max_reconnect_attempts=3)
    try:
        await ensure_streams(nc.jetstream(), naming, replicas=args.replicas, max_age=args.max_age)
    finally:
        await nc.close()
    streams = ", ".join(naming.stream(name) for name in STREAMS)
    consumers = ", ".join(spec.durable(naming) for spec in CONSUMERS) or "none"
    print(f"streams: {streams}\nconsumers: {consumers}")


if __name__ == "__main__":
    asyncio.run(main())
