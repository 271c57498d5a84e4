"""Input rules shared by admin's domains."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pydantic_core import PydanticCustomError

#: PostgreSQL cannot store NUL in text or JSON: refuse it at the door (422), not at the
#: database (which would be a 500).
NO_NUL: Final = r"^[^\x00]*$"
#: Text with something besides white space, and no NUL: the pattern says what ``min_length=1``
#: after ``strip_whitespace`` means, so the published schema and the validation agree (a
#: blank string is refused by both). Control characters (C0 and C1, where NEL is white space to
#: Python but not to JSON Schema) cannot stand for the content either.
NOT_BLANK: Final = r"^\s*[^\s\x00-\x1f\x7f-\x9f\ufeff][^\x00]*$"


def at_most(length: int) -> Callable[[Any], Any]:
    """A ``BeforeValidator`` that refuses text longer than ``length`` *as sent*: the schema's
    ``maxLength`` counts what the client sends, while ``strip_whitespace`` would let
    ``max_length`` count only what is left (found by tests/fuzz: 201 characters with a leading
    tab were accepted against ``maxLength: 200``)."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > length:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": length},
            )
        return value

    return check
