"""Waiting in tests for what happens asynchronously (an event consumed, a projection written)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually"]

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], what: str, within: float = 30.0, interval: float = 0.1
) -> T:
    """Call ``check`` until it answers something true and return that; fail the test naming
    ``what`` if ``within`` seconds pass first."""
    deadline = time.monotonic() + within
    while True:
        if result := await check():
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        await asyncio.sleep(interval)
