"""Group commit: the effects of messages delivered together share one transaction.

A consumer that fetches a batch handles its messages in concurrent handler calls. Each call
hands its item (an event, a plan) to :meth:`GroupCommit.submit` and waits: the items waiting
together are applied by one call of ``many`` (one transaction, one commit, one fsync), and
each call returns, and its message is acked, only once its own effect has committed. When the
shared transaction fails, its items are applied again one by one with ``one``, each in its own
transaction, so one bad item is retried or dead-lettered by itself and never takes its
neighbours with it.

Used by reporting's projections and notification's deliveries; what a group writes, and how it
claims its inbox rows in one statement, is theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Applies the items of concurrent calls of one consumer in shared transactions.

    ``many`` applies a group in one transaction and returns one result per item, in order;
    ``one`` applies a single item in its own transaction. At most one group runs at a time per
    instance; items that arrive meanwhile form the next group (up to ``max_group``).
    """

    def __init__(
        self,
        many: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        one: Callable[[Item], Awaitable[Result]],
        *,
        name: str,
        max_group: int = 256,
    ) -> None:
        self._many = many
        self._one = one
        self._name = name
        self._max_group = max_group
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Return ``item``'s result once its effect has committed; raise what applying it
        alone raised."""
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name=f"group-commit-{self._name}")
        return await done

    async def _drain(self) -> None:
        # One turn of the loop first: handlers started together join the first group.
        await asyncio.sleep(0)
        while self._waiting:
            group = self._waiting[: self._max_group]
            del self._waiting[: self._max_group]
            live = [(item, done) for item, done in group if not done.cancelled()]
            if not live:
                continue
            try:
                results = await self._many([item for item, _ in live])
                if len(results) != len(live):
                    raise ValueError(f"{len(results)} results for a group of {len(live)}")
            except Exception:
                await self._one_by_one(live)
            else:
                for (_, done), result in zip(live, results, strict=True):
                    if not done.done():
                        done.set_result(result)

    async def _one_by_one(self, group: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        for item, done in group:
            try:
                result = await self._one(item)
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
            else:
                if not done.done():
                    done.set_result(result)
