"""Which tenants are suspended, as every service instance must know to refuse their tokens.

A suspended NGO keeps its data but its users may no longer act (the admin service publishes
``tenant.suspended`` and ``tenant.reactivated`` on the ADMIN stream). An NGO being offboarded
(``tenant.offboarding_started``) is refused the same way, except that its tenant
administrators may download the services' exports of its data (:attr:`TenantSuspensions.
is_offboarding`); once offboarded (``tenant.offboarded``) it is refused for good. Tokens stay valid at the
issuer until they expire, so each service refuses them itself: :class:`TenantSuspensions`
holds the set of suspended tenant ids of this process, kept current by an *ephemeral ordered*
JetStream consumer on ``tirek.admin.tenant.>`` that replays the stream from its start.

Why ordered and ephemeral rather than a durable consumer: every instance of every service
needs every event (a durable shared by instances would hand each event to one of them only),
and replaying from the start rebuilds the set at boot with no table of its own. Ordered
delivery makes "suspended, then reactivated" end in the right state.

The watch counts as caught up (:attr:`TenantSuspensions.ready`) once it has applied every
tenant event that was in the stream when it subscribed; until then its readiness check fails
and requests are *not* refused for suspension (the service is not meant to receive traffic
before it is ready). :func:`tirek.web.create_service_app` starts one per application and
:func:`tirek.auth.get_principal` consults it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any, Final

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from nats.js.client import JetStreamContext

from tirek.messaging.broker import PERMANENT_ERRORS, verify_event
from tirek.messaging.naming import Naming
from tirek.settings import nats_servers

__all__ = ["TENANT_SUBJECTS", "TenantSuspensions"]

logger = logging.getLogger(__name__)

#: The (un-namespaced) subjects the watch reads; only tenant events, not agreements.
TENANT_SUBJECTS: Final = "tirek.admin.tenant.>"
_STREAM: Final = "ADMIN"
_SUSPENDED: Final = "tenant.suspended"
_REACTIVATED: Final = "tenant.reactivated"
_OFFBOARDING: Final = "tenant.offboarding_started"
_OFFBOARDED: Final = "tenant.offboarded"


class TenantSuspensions:
    """The suspended tenants of the consortium, as seen by this process.

    ``start()`` connects to NATS (its own connection) and subscribes in the background,
    retrying until the ADMIN stream exists and the server answers; ``stop()`` ends it.
    :meth:`is_suspended` answers from memory. :meth:`readiness_check` fails until the replay
    has caught up with the stream as it was at subscription time.
    """

    def __init__(
        self,
        *,
        nats_url: str,
        naming: Naming,
        retry_seconds: float = 1.0,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._nats_url = nats_url
        #: More ``nats.connect`` arguments: the service's NATS user in deployments.
        self._connect_options = dict(connect_options or {})
        self._naming = naming
        self._retry_seconds = retry_seconds
        self._suspended: set[uuid.UUID] = set()
        self._offboarding: set[uuid.UUID] = set()
        self._offboarded: set[uuid.UUID] = set()
        self._caught_up = asyncio.Event()
        self._nc: NatsClient | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """True once every tenant event present at subscription time has been applied."""
        return self._caught_up.is_set()

    @property
    def suspended(self) -> frozenset[uuid.UUID]:
        """A snapshot of the suspended tenant ids."""
        return frozenset(self._suspended)

    def is_suspended(self, tenant_id: uuid.UUID) -> bool:
        """True when the tenant's users may not act: suspended, being offboarded or gone."""
        return (
            tenant_id in self._suspended
            or tenant_id in self._offboarding
            or tenant_id in self._offboarded
        )

    def is_offboarding(self, tenant_id: uuid.UUID) -> bool:
        """True while the tenant is leaving and not yet gone: its exports may be downloaded."""
        return tenant_id in self._offboarding

    async def wait_ready(self) -> None:
        """Wait until caught up (bound it with :func:`asyncio.timeout`)."""
        await self._caught_up.wait()

    async def readiness_check(self) -> None:
        """Readiness: raises until the replay of tenant events has caught up."""
        if not self.ready:
            raise RuntimeError("tenant suspensions not yet replayed")

    async def start(self) -> None:
        """Begin watching in the background (returns at once; see :attr:`ready`)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tenant-suspensions")

    async def stop(self) -> None:
        """Stop watching and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            await nc.close()

    async def _run(self) -> None:
        while True:
            try:
                await self._subscribe()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The stream may not be declared yet, or NATS not up: keep trying, stay unready.
                logger.warning(
                    "tenant suspension watch not subscribed yet, retrying",
                    extra={"error_type": type(exc).__qualname__},
                )
                nc, self._nc = self._nc, None
                if nc is not None and not nc.is_closed:
                    with contextlib.suppress(Exception):
                        await nc.close()
                await asyncio.sleep(self._retry_seconds)

    async def _subscribe(self) -> None:
        self._nc = await nats.connect(
            nats_servers(self._nats_url),
            name="tenant-suspensions",
            max_reconnect_attempts=-1,
            allow_reconnect=True,
            **self._connect_options,
        )
        js: JetStreamContext = self._nc.jetstream()
        subscription = await js.subscribe(
            self._naming.subject(TENANT_SUBJECTS),
            stream=self._naming.stream(_STREAM),
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
            cb=self._on_message,
        )
        info = await subscription.consumer_info()
        if info.num_pending == 0 and (info.delivered is None or not info.delivered.stream_seq):
            # Nothing to replay: caught up from the start.
            self._caught_up.set()
        # Otherwise _on_message sets it on the message that leaves nothing pending.

    async def _on_message(self, msg: Msg) -> None:
        self._apply(msg.subject, msg.data)
        try:
            pending = msg.metadata.num_pending
        except Exception:  # a message without JetStream metadata: cannot tell, keep waiting
            return
        if pending == 0:
            self._caught_up.set()

    def _apply(self, subject: str, data: bytes) -> None:
        # The kernel's verification of every consumer: a tenant event in another tenant's
        # name, or off its subject, must not suspend (or reactivate) anyone. The durable
        # consumers of the ADMIN stream dead-letter it; this watch only skips it.
        try:
            envelope = verify_event(self._naming, subject, data)
        except PERMANENT_ERRORS as exc:
            # Not personal data, but not ours to echo either: the type of the fault only.
            logger.warning(
                "tenant event refused by the suspension watch",
                extra={"error_type": type(exc).__name__},
            )
            return
        event_type = envelope.type
        tenant_id = envelope.tenant
        if tenant_id in self._offboarded:
            return  # final: nothing revives an offboarded tenant
        if event_type == _SUSPENDED:
            self._suspended.add(tenant_id)
            logger.info("tenant suspended", extra={"tenant": str(tenant_id)})
        elif event_type == _REACTIVATED:
            self._suspended.discard(tenant_id)
            self._offboarding.discard(tenant_id)
            logger.info("tenant reactivated", extra={"tenant": str(tenant_id)})
        elif event_type == _OFFBOARDING:
            self._offboarding.add(tenant_id)
            logger.info("tenant offboarding started", extra={"tenant": str(tenant_id)})
        elif event_type == _OFFBOARDED:
            self._offboarded.add(tenant_id)
            self._offboarding.discard(tenant_id)
            self._suspended.discard(tenant_id)
            logger.info("tenant offboarded", extra={"tenant": str(tenant_id)})
