"""What planning reads for every event, kept for a few seconds: the rules of an event type, the
tenant directory (coordination tenants, NGO names), and per tenant what it set up (rules turned
off, channels, active recipients).

Planning read them from the database for every event (about half of notification's CPU on a
``case.registered``, and with them in memory an event that notifies no one costs no database
work at all). An entry is forgotten as soon as a change to it commits: in this process by the
view or handler that made it (a rule turned on or off, a channel configured, a recipient added,
changed or removed, a ``tenant.*`` event), from any process by the database's NOTIFY
(:mod:`notification.rules.listener`). ``ttl`` (``TIREK_RULE_CACHE_SECONDS``) bounds how long
a change made while this process was not listening can go unseen.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
#: The active coordination tenants.
COORDINATION = ("coordination",)
#: Every tenant's names, by id.
NAMES = ("names",)


def rules_key(event_type: str) -> tuple[str, str]:
    return ("rules", event_type)


def tenant_key(tenant_id: uuid.UUID) -> tuple[str, uuid.UUID]:
    """A tenant's setup: the rules it turned off, its channels, its active recipients."""
    return ("tenant", tenant_id)


class PlanningCache:
    """Values by key, each for ``ttl`` seconds (0: nothing is kept).

    Concurrent reads of a missing key share one load (a batch of events for one tenant reads
    its setup once), unless an invalidation came in between: a read that starts after a change
    committed never gets a value loaded before it.
    """

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        #: Loads in flight, by key, with the generation they started in.
        self._loading: dict[Hashable, tuple[int, asyncio.Future[Any]]] = {}
        # Bumped by every invalidation: a value loaded across one may predate the change.
        self._generation = 0

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The kept value of ``key``, or what ``load()`` reads (then kept)."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now < entry[0]:
            value: T = entry[1]
            return value
        generation = self._generation
        flight = self._loading.get(key)
        if flight is not None and flight[0] == generation:
            try:
                shared: T = await asyncio.shield(flight[1])
                return shared
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not flight[1].cancelled() or (task is not None and task.cancelling()):
                    raise
                # The read this one waited for was cancelled (not this one): read it here.
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._loading[key] = (generation, future)
        try:
            value = await load()
        except Exception as error:
            future.set_exception(error)
            future.exception()  # marked as retrieved: there may be no one waiting
            raise
        except BaseException:
            future.cancel()
            raise
        else:
            future.set_result(value)
        finally:
            if key in self._loading and self._loading[key][1] is future:
                del self._loading[key]
        if self._ttl > 0 and generation == self._generation:
            self._entries[key] = (now + self._ttl, value)
        return value

    def invalidate(self, *keys: Hashable) -> None:
        """Forget ``keys`` (none given: everything)."""
        self._generation += 1
        if not keys:
            self._entries.clear()
        for key in keys:
            self._entries.pop(key, None)

    def invalidate_on_commit(self, session: AsyncSession, *keys: Hashable) -> None:
        """Forget ``keys`` once ``session``'s transaction has committed (whoever commits it:
        the view, or the idempotency middleware with the stored answer). Forgetting them
        earlier would let a concurrent event load and keep the old rows again."""

        def forget(_session: Any) -> None:
            self.invalidate(*keys)

        event.listen(session.sync_session, "after_commit", forget, once=True)
