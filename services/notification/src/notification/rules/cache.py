"""What planning reads for every event, kept for a few seconds: the rules of an event type, the
coordination tenants, and each tenant's rules turned off.

Planning read them from the database for every event (about half of notification's CPU on a
``case.registered``). This process forgets an entry as soon as it commits a change to it (a
rule turned on or off through the API, a ``tenant.*`` event); a change committed by another
instance is seen once the entry is ``ttl`` seconds old (``TIREK_RULE_CACHE_SECONDS``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
COORDINATION = ("coordination",)


def rules_key(event_type: str) -> tuple[str, str]:
    return ("rules", event_type)


def disabled_key(tenant_id: uuid.UUID) -> tuple[str, uuid.UUID]:
    return ("disabled", tenant_id)


class PlanningCache:
    """Values by key, each for ``ttl`` seconds (0: nothing is kept)."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
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
        value = await load()
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
