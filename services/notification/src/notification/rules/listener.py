"""Planning forgets what it keeps as soon as any process commits a change to it.

Migration 0004's triggers NOTIFY :data:`CHANNEL` when a commit changed a tenant's recipients,
channel settings or rule settings (payload: the tenant's id) or the tenant directory
(``directory``), whoever committed it: this instance, another one, ``seed-demo``, an
offboarding's erasure. :class:`SetupListener` LISTENs on a connection of its own and forgets
the entry. A notification sent while it was not listening (starting, reconnecting) is lost,
so it forgets everything each time it starts listening again; meanwhile the cache's TTL
(``TIREK_RULE_CACHE_SECONDS``) bounds how long a change can go unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Final

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.rules.cache import COORDINATION, NAMES, PlanningCache, tenant_key

CHANNEL: Final = "notification_setup"
DIRECTORY: Final = "directory"
#: Its connection's application_name (it is never returned to the pool).
APPLICATION_NAME: Final = "notification-setup-listener"

_log = logging.getLogger(__name__)


class SetupListener:
    """Keeps ``cache`` in step with the database's NOTIFY of setup changes."""

    def __init__(
        self, engine: AsyncEngine, cache: PlanningCache, *, retry: float = 1.0, check: float = 10.0
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._retry = retry
        self._check = check
        self._task: asyncio.Task[None] | None = None
        #: Set while a connection listens.
        self.listening = asyncio.Event()

    def forget(self, payload: str) -> None:
        """Forget what a notification with ``payload`` says changed."""
        if payload == DIRECTORY:
            self._cache.invalidate(COORDINATION, NAMES)
            return
        try:
            self._cache.invalidate(tenant_key(uuid.UUID(payload)))
        except ValueError:
            self._cache.invalidate()  # not ours to understand: forget everything

    async def start(self, *, wait: float = 5.0) -> None:
        """Listen in a task; returns once listening (or after ``wait`` seconds, the task
        retrying meanwhile)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="notification-setup-listener")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self.listening.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                _log.warning(
                    "planning cache listener lost its connection; reconnecting",
                    extra={"error_type": type(error).__name__},
                )
            await asyncio.sleep(self._retry)

    async def _listen_once(self) -> None:
        conn = await self._engine.connect()
        try:
            raw = (await conn.get_raw_connection()).driver_connection
            assert isinstance(raw, asyncpg.Connection)
            lost = asyncio.Event()
            raw.add_termination_listener(lambda _conn: lost.set())
            await raw.execute(f"SET application_name = '{APPLICATION_NAME}'")

            def on_notify(_conn: object, _pid: int, _channel: str, payload: object) -> None:
                self.forget(str(payload))

            await raw.add_listener(CHANNEL, on_notify)
            self._cache.invalidate()  # a change may have gone unnoticed while not listening
            self.listening.set()
            while not raw.is_closed():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._check):
                        await lost.wait()
                if lost.is_set():
                    return
                # A quiet connection can be dead without asyncpg knowing: ask it.
                async with asyncio.timeout(self._check):
                    await raw.fetchval("SELECT 1")
        finally:
            self.listening.clear()
            # Invalidated, never returned to the pool: a pooled connection must not LISTEN.
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()
