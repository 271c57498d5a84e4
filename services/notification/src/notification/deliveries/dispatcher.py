"""Sends due deliveries, concurrently, each under its own timeout; retries with backoff.

Everything is driven by persisted ``next_attempt_at`` and an injectable clock:
:meth:`Dispatcher.dispatch_due` is one pass (tests call it directly), :meth:`Dispatcher.run`
repeats it. A pass claims due rows per tenant (``FOR UPDATE SKIP LOCKED``, then pushes
``next_attempt_at`` one lease ahead so a crashed sender's rows come due again), sends them all
at once, and records each outcome in its own transaction with its ``notification.sent`` or
``notification.failed`` event in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.channels.base import ChannelRegistry, OutgoingMessage, SendResult
from notification.channels.service import secrets
from notification.deliveries.models import Delivery, DeliveryAttempt
from notification.deliveries.planning import TENANT_KEY
from notification.templates.render import Renderer, digest_context
from notification.tenants.service import tenant_ids
from tirek.crypto import KeyProvider
from tirek.db import UnitOfWork
from tirek.events import Envelope
from tirek.events.notification import NotificationFailed, NotificationSent
from tirek.messaging.outbox import add_to_outbox

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: float = 2.0
    cap: float = 3600.0

    def delay(self, attempts: int) -> timedelta:
        """Wait after failed attempt number ``attempts`` (1-based): base·2^(n-1), capped."""
        return timedelta(seconds=min(self.cap, self.base * 2 ** (attempts - 1)))


@dataclass(frozen=True)
class _Claimed:
    message: OutgoingMessage
    channel: str
    attempt: int


class Dispatcher:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        channels: ChannelRegistry,
        keys: KeyProvider,
        renderer: Renderer,
        clock: Clock,
        retry: RetryPolicy,
        timeout: float,
        concurrency: int = 20,
        batch: int = 100,
        interval: float = 1.0,
        link_base: str = "",
    ) -> None:
        self._sessions = sessions
        self._channels = channels
        self._keys = keys
        self._renderer = renderer
        self._clock = clock
        self._retry = retry
        self._timeout = timeout
        self._limit = asyncio.Semaphore(concurrency)
        self._batch = batch
        self._interval = interval
        self._link_base = link_base
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Ask for a pass now (new deliveries were planned)."""
        self._wake.set()

    async def dispatch_due(self) -> int:
        """One pass: every due delivery of every tenant is tried once. Returns how many."""
        now = self._clock()
        async with UnitOfWork(self._sessions, None) as session:
            tenants = await tenant_ids(session)
        claimed: list[_Claimed] = []
        for tenant_id in tenants:
            await self._roll_up_digests(tenant_id, now)
            claimed.extend(await self._claim(tenant_id, now))
        # Each delivery is sent and recorded on its own: a slow channel delays nobody else.
        await asyncio.gather(*(self._send_and_record(item) for item in claimed))
        return len(claimed)

    async def _send_and_record(self, item: _Claimed) -> None:
        await self._record(item, await self._send(item))

    async def _claim(self, tenant_id: uuid.UUID, now: datetime) -> list[_Claimed]:
        lease = now + timedelta(seconds=self._timeout + 30)
        async with UnitOfWork(self._sessions, tenant_id) as session:
            query = (
                select(Delivery)
                .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at)
                .limit(self._batch)
                .with_for_update(skip_locked=True)
            )
            rows = list((await session.scalars(query)).all())
            if not rows:
                return []
            opened = await secrets(session, self._keys, tenant_id=tenant_id)
            claimed = []
            for row in rows:
                row.attempts += 1
                row.next_attempt_at = lease
                message = OutgoingMessage(
                    delivery_id=row.id,
                    tenant_id=tenant_id,
                    event_id=row.event_id,
                    event_type=row.event_type,
                    user_id=None if row.recipient_key == TENANT_KEY else row.recipient_key,
                    address=row.address,
                    language=row.language,
                    subject=row.subject,
                    body=row.body,
                    link=row.link,
                    secret=opened.get(row.channel),
                )
                claimed.append(_Claimed(message, row.channel, row.attempts))
            return claimed

    async def _send(self, item: _Claimed) -> SendResult:
        channel = self._channels.get(item.channel)
        if channel is None:
            return SendResult.refused("channel_unavailable")
        async with self._limit:
            try:
                return await asyncio.wait_for(channel.send(item.message), self._timeout)
            except TimeoutError:
                return SendResult.retry("timeout")
            except Exception as error:  # a broken plugin must not stop the other deliveries
                log.warning(
                    "channel %s raised %s on delivery %s",
                    item.channel,
                    type(error).__name__,
                    item.message.delivery_id,
                )
                return SendResult.retry("channel_error")

    async def _record(self, item: _Claimed, result: SendResult) -> None:
        now = self._clock()
        message = item.message
        async with UnitOfWork(self._sessions, message.tenant_id) as session:
            row = await session.get(Delivery, message.delivery_id, with_for_update=True)
            if row is None:
                return
            session.add(
                DeliveryAttempt(
                    tenant_id=message.tenant_id,
                    delivery_id=row.id,
                    number=item.attempt,
                    at=now,
                    ok=result.ok,
                    error=result.error,
                )
            )
            row.last_error = result.error
            event: NotificationSent | NotificationFailed
            if result.ok:
                row.status, row.sent_at = "sent", now
                event = NotificationSent(**self._facts(row, now))
            elif result.permanent or row.attempts >= self._retry.max_attempts:
                row.status = "failed"
                reason = result.error if result.permanent else "attempts_exhausted"
                event = NotificationFailed(**self._facts(row, now), reason=reason or "failed")
            else:
                row.next_attempt_at = now + self._retry.delay(row.attempts)
                return
            await add_to_outbox(
                session, Envelope.wrap(event, tenant=message.tenant_id, subject=row.id)
            )

    @staticmethod
    def _facts(row: Delivery, now: datetime) -> dict[str, object]:
        return {
            "delivery_id": row.id,
            "about_event_id": row.event_id,
            "about_event_type": row.event_type,
            "channel": row.channel,
            "attempts": row.attempts,
            "at": now,
        }

    async def _roll_up_digests(self, tenant_id: uuid.UUID, now: datetime) -> None:
        """Gather each recipient's held messages that came due into one digest delivery."""
        async with UnitOfWork(self._sessions, tenant_id) as session:
            query = (
                select(Delivery)
                .where(Delivery.status == "held", Delivery.next_attempt_at <= now)
                .order_by(Delivery.created_at, Delivery.id)
                .with_for_update(skip_locked=True)
            )
            groups: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
            for row in (await session.scalars(query)).all():
                groups[(row.recipient_key, row.channel)].append(row)
            for (recipient_key, channel), rows in groups.items():
                latest = rows[-1]
                rendered = self._renderer.render(
                    "digest",
                    latest.language,
                    digest_context([row.subject for row in rows], self._link_base),
                )
                digest = Delivery(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    event_id=uuid.uuid4(),
                    event_type="digest",
                    rule_id="digest",
                    recipient_key=recipient_key,
                    channel=channel,
                    address=latest.address,
                    language=rendered.language,
                    subject=rendered.subject,
                    body=rendered.body,
                    link=self._link_base,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                )
                session.add(digest)
                for row in rows:
                    row.status, row.digest_id = "digested", digest.id

    async def run(self) -> None:
        # stop() cancels the task and sets a flag: a cancellation lost on the way (anything in a
        # pass that swallows it) still ends the loop. asyncio.timeout, not wait_for: on Python
        # 3.11 wait_for returns the wake-up instead of raising when a cancellation and a wake()
        # arrive together (a stop() awaited this loop forever in `make test`; the outbox relay
        # had met the same).
        while not self._stopping:
            try:
                await self.dispatch_due()
            except Exception:  # the loop must outlive a database or channel hiccup
                log.exception("dispatch pass failed")
            try:
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name="notification-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
