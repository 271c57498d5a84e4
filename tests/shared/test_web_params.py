"""Patterns the published schema states and the services check must agree on every character
that one regex dialect calls white space and another does not (found by tests/fuzz)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Query
from pydantic import Field, TypeAdapter, ValidationError

from tirek.web.params import EMAIL, EMAIL_OR_EMPTY, single_valued_query
from tirek.web.problems import install_problem_handlers

#: ECMA-262's ``\s`` (what a client reading the JSON Schema applies), written out.
ECMA_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
ECMA_SPACE += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
#: Python's and Unicode's white space beyond ECMA's: NEL.
OTHER_SPACE = "\x85"

email = TypeAdapter(Annotated[str, Field(pattern=EMAIL)])


def as_ecma(pattern: str) -> str:
    """``pattern`` as ECMA-262 reads it, for Python's ``re``: ``\\s`` is ECMA's set. (Our
    patterns use ``\\s`` only inside character classes.)"""
    return pattern.replace(r"\s", "".join(f"\\u{ord(c):04x}" for c in ECMA_SPACE))


@pytest.mark.parametrize("space", list(ECMA_SPACE + OTHER_SPACE), ids=lambda c: f"U+{ord(c):04X}")
def test_white_space_in_an_address_is_refused_by_every_reading(space: str) -> None:
    address = f"ana{space}sabirova@example.org"
    assert re.search(EMAIL, address) is None
    assert re.search(as_ecma(EMAIL), address) is None, "a JSON Schema reader would accept it"
    with pytest.raises(ValidationError):
        email.validate_python(address)


def test_an_ordinary_address_or_none_passes() -> None:
    assert email.validate_python("gulnara.t@ngo.example.kz")
    assert re.search(EMAIL_OR_EMPTY, "")
    assert re.search(EMAIL, "no-at-sign.example.org") is None


def repeated_query_app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(single_valued_query)])
    install_problem_handlers(app)

    def page(limit: int = 10) -> int:
        return limit

    @app.get("/items")
    async def items(
        offset: int = 0,
        tag: Annotated[list[str] | None, Query()] = None,
        limit: int = Depends(page),
    ) -> dict[str, Any]:
        return {"offset": offset, "tag": tag, "limit": limit}

    return app


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ("offset=1&offset=0", ["offset"]),
        ("limit=5&limit=500", ["limit"]),  # a dependency's parameter
        ("offset=1&limit=2&offset=1&limit=2", ["limit", "offset"]),
        ("tag=a&tag=b", []),  # a list takes several
        ("unknown=1&unknown=2", []),  # not a parameter: ignored, as FastAPI does
    ],
)
async def test_a_parameter_of_one_value_given_twice_is_refused(
    query: str, refused: list[str]
) -> None:
    transport = httpx.ASGITransport(app=repeated_query_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get(f"/items?{query}")
    if not refused:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert sorted(e["loc"][1] for e in response.json()["errors"]) == refused
