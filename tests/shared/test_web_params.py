"""Patterns the published schema states and the services check must agree on every character
that one regex dialect calls white space and another does not (found by tests/fuzz)."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from tirek.web.params import EMAIL, EMAIL_OR_EMPTY

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
