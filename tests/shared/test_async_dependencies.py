"""Every FastAPI dependency of every service is a coroutine function.

FastAPI runs a plain ``def`` dependency in a worker thread: a hand-off to the thread pool and
back on every request, for what is an attribute lookup. Four of them on ``POST /v1/cases``
cost about a tenth of intake's CPU under load (py-spy during ``make bench``). A dependency
that would block (file or network I/O) has no place here either: the services are async.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

SERVICES = ("intake", "referral", "notification", "reporting", "admin")


def _routes(router: Any, seen: set[int]) -> Iterator[APIRoute]:
    """The API routes of ``router`` and of the routers it includes (FastAPI 0.165 keeps an
    included router as one route that holds it)."""
    if id(router) in seen:
        return
    seen.add(id(router))
    for route in getattr(router, "routes", ()):
        if isinstance(route, APIRoute):
            yield route
        for attribute in ("router", "app", "original_router"):
            inner = getattr(route, attribute, None)
            if inner is not None:
                yield from _routes(inner, seen)


def _is_async(call: Any) -> bool:
    return (
        inspect.iscoroutinefunction(call)
        or inspect.isasyncgenfunction(call)
        or inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004
    )


def _sync_dependencies(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        call = dependency.call
        if call is not None and not _is_async(call):
            yield f"{getattr(call, '__module__', '?')}.{getattr(call, '__qualname__', call)}"
        yield from _sync_dependencies(dependency)


@pytest.mark.parametrize("service", SERVICES)
def test_no_dependency_runs_in_the_thread_pool(service: str) -> None:
    app = importlib.import_module(f"{service}.main").create_app()
    routes = list(_routes(app.router, set()))
    assert len(routes) > 10, "the walk found too few routes to be a real check"
    sync = sorted(
        {
            f"{name} (in {route.path})"
            for route in routes
            for name in _sync_dependencies(route.dependant)
        }
    )
    assert sync == [], "make these dependencies `async def`:\n" + "\n".join(sync)
