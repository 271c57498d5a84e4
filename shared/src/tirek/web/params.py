"""Query parameters every service reads, bounded and strict where FastAPI alone is lenient,
and text patterns that the published schema and the validation read alike."""

from __future__ import annotations

import re
import types
from collections import Counter
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import date
from typing import Annotated, Any, Final, Union, get_args, get_origin

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BeforeValidator

__all__ = [
    "EMAIL",
    "EMAIL_OR_EMPTY",
    "MAX_OFFSET",
    "IsoDate",
    "Offset",
    "single_valued_query",
]

#: Rows a list may skip. PostgreSQL's OFFSET is a bigint: an unbounded integer from a query
#: string (found by tests/fuzz: ``offset=10**27``) was a 500; past a million rows of one NGO,
#: offset paging is no way to read anyway.
MAX_OFFSET: Final = 1_000_000

#: ``offset`` of a list endpoint: 0 to :data:`MAX_OFFSET`, else 422.
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]

_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        # Pydantic would read "0.0" or "1700000000" as seconds since 1970 (found by
        # tests/fuzz): a filter that silently means 1970-01-01.
        raise ValueError("a date is written YYYY-MM-DD")
    return value


#: A day in a query string, as ``YYYY-MM-DD`` only.
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


#: Characters that are white space to Pydantic's (Rust) regex and Python but not to JSON
#: Schema's ECMA-262 ``\s`` (NEL), or the other way round (BOM): named, so that a client
#: reading the published pattern and the service agree (found by tests/fuzz: an address with
#: NEL matched the schema and was refused).
_SPACE: Final = r"\s\x85\ufeff"
#: An e-mail address: something, ``@``, a domain with a dot; no white space, no NUL.
EMAIL: Final = rf"^[^@{_SPACE}\x00]+@[^@{_SPACE}\x00]+\.[^@{_SPACE}\x00]+$"
#: :data:`EMAIL`, or empty for none.
EMAIL_OR_EMPTY: Final = rf"^$|{EMAIL}"


def _is_many(annotation: Any) -> bool:
    """Whether a parameter's type takes several values (``list[str] | None`` does)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_many(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_is_many(arg) for arg in get_args(annotation))
    return (
        isinstance(origin, type)
        and issubclass(origin, Sequence | AbstractSet)
        and (origin not in (str, bytes))
    )


def _query_fields(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    for dependency in dependant.dependencies:
        yield from _query_fields(dependency)


def _single_valued(route: APIRoute) -> frozenset[str]:
    """The aliases of ``route``'s query parameters (its dependencies' included) of one value,
    worked out once per route and kept on it (routes are not hashable)."""
    known: frozenset[str] | None = getattr(route, "_tirek_single_valued", None)
    if known is None:
        known = frozenset(
            field.alias
            for field in _query_fields(route.dependant)
            if not _is_many(field.field_info.annotation)
        )
        route._tirek_single_valued = known  # type: ignore[attr-defined]
    return known


async def single_valued_query(request: Request) -> None:
    """Refuse (422) a query parameter of one value given more than once: FastAPI would keep
    the last and drop the others silently (found by tests/fuzz: ``offset=[...]&offset=0``).
    A dependency of every service's app (``tirek.web.app``)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    counts = Counter(name for name, _ in request.query_params.multi_items())
    repeated = sorted(name for name, n in counts.items() if n > 1 and name in _single_valued(route))
    if repeated:
        raise RequestValidationError(
            [
                {"loc": ("query", name), "msg": "Give this parameter once", "type": "repeated"}
                for name in repeated
            ]
        )
