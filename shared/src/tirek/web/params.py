"""Query parameters every service reads, bounded and strict where FastAPI alone is lenient,
and text patterns that the published schema and the validation read alike."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Final

from fastapi import Query
from pydantic import BeforeValidator

__all__ = ["EMAIL", "EMAIL_OR_EMPTY", "MAX_OFFSET", "IsoDate", "Offset"]

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
