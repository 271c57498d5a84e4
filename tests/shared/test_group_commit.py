"""The kernel's group commit: concurrent submissions share one ``many`` call, results go back
to their own callers, and a failed group is applied again one item at a time so that only
the bad item fails."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tirek.messaging.group_commit import GroupCommit


class Bad(Exception):
    pass


class Store:
    """Records the groups it was asked to apply; an item named ``bad`` fails."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.singles: list[str] = []

    async def many(self, items: Sequence[str]) -> list[str]:
        self.groups.append(list(items))
        if "bad" in items:
            raise Bad("a group holding a bad item rolls back")
        return [item.upper() for item in items]

    async def one(self, item: str) -> str:
        self.singles.append(item)
        if item == "bad":
            raise Bad(item)
        return item.upper()


async def test_concurrent_submissions_share_one_group_and_get_their_own_results() -> None:
    store = Store()
    group = GroupCommit(store.many, store.one, name="test")
    results = await asyncio.gather(*(group.submit(f"e{i}") for i in range(10)))
    assert results == [f"E{i}" for i in range(10)]
    assert store.groups == [[f"e{i}" for i in range(10)]], "not applied as one group"
    assert store.singles == []


async def test_a_failed_group_is_applied_one_by_one_and_only_the_bad_item_fails() -> None:
    store = Store()
    group = GroupCommit(store.many, store.one, name="test")
    items = ["a", "bad", "c"]
    results = await asyncio.gather(*(group.submit(i) for i in items), return_exceptions=True)
    assert results[0] == "A" and results[2] == "C"
    assert isinstance(results[1], Bad)
    assert store.singles == items, "the group's items were not retried one by one"


async def test_groups_are_at_most_max_group_items() -> None:
    store = Store()
    group = GroupCommit(store.many, store.one, name="test", max_group=4)
    await asyncio.gather(*(group.submit(f"e{i}") for i in range(10)))
    assert [len(g) for g in store.groups] == [4, 4, 2]


async def test_a_result_per_item_is_required() -> None:
    async def short(items: Sequence[str]) -> list[str]:
        return []

    async def one(item: str) -> str:
        raise Bad(item)

    group = GroupCommit(short, one, name="test")
    with pytest.raises(Bad):  # a wrong count of results fails the group: applied one by one
        await group.submit("x")
