"""Input rules shared by admin's domains."""

from __future__ import annotations

from typing import Final

#: PostgreSQL cannot store NUL in text or JSON: refuse it at the door (422), not at the
#: database (which would be a 500).
NO_NUL: Final = r"^[^\x00]*$"
