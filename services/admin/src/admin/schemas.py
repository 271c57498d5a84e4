"""Input rules shared by admin's domains."""

from __future__ import annotations

from typing import Final

#: PostgreSQL cannot store NUL in text or JSON: refuse it at the door (422), not at the
#: database (which would be a 500).
NO_NUL: Final = r"^[^\x00]*$"
#: Text with something besides white space, and no NUL: the pattern says what ``min_length=1``
#: after ``strip_whitespace`` means, so the published schema and the validation agree (a
#: blank string is refused by both). Control characters cannot stand for the content either.
NOT_BLANK: Final = r"^\s*[^\s\x00-\x1f\x7f][^\x00]*$"
