"""What each kind of answer discloses, by field name (the ``fields`` of a log entry).

Derived from the API shapes where one exists, so a field added to a person shows up in the
log the day it is added to the answer.
"""

from __future__ import annotations

from typing import Final

from intake.persons.schemas import PersonOut

#: A person's fields as a case answer shows them.
PERSON: Final = tuple(name for name in PersonOut.model_fields if name != "id")
#: A whole case (``GET /v1/cases/{id}`` and every answer that returns the case).
CASE: Final = (*PERSON, "notes")
#: A row of the case list: the person's names only.
NAMES: Final = ("first_name", "second_name", "patronymic", "name_latin")
#: A case's assistance records (their notes are free text about the person).
ASSISTANCE: Final = ("assistance_records",)
#: A case's consents (who gave them, a guardian's name, why one was withdrawn).
CONSENTS: Final = ("consents",)
#: Family links between persons.
FAMILY_LINKS: Final = ("family_links",)
