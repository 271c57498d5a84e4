"""The consortium-keyed hint values of a person: pure, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any, Final

from intake.persons.search import NAME_FIELDS, person_name_keys
from tirek.crypto import TenantKeys

#: The blind-index field of the consortium's keys (:meth:`tirek.crypto.Keyring.consortium`)
#: these values are keyed for.
HINT_FIELD: Final = "person-hint"


def birth_year(value: date | str | None) -> int | None:
    """The year of a birth date (a date or an ISO string); None when unknown.

    An estimated age gives no year: an estimate is years off, and a hint across NGOs on a
    guessed year would point caseworkers at strangers.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return date.fromisoformat(value).year
    return value.year


def hint_values(
    consortium: TenantKeys, person: Mapping[str, Any], *, names: Collection[str] | None = None
) -> set[str]:
    """One value per spelling of the name, joined with the birth year and citizenship, keyed
    with the consortium's blind-index key (equal in every NGO). ``names``: the person's
    :func:`~intake.persons.search.person_name_keys`, when the caller has them already.

    A person without a name, a birth date or a citizenship gets none: a name alone meets too
    many strangers across a consortium to tell a caseworker anything.
    """
    year = birth_year(person.get("birth_date"))
    citizenship = person.get("citizenship")
    if year is None or not citizenship:
        return set()
    if names is None:
        names = person_name_keys(person)
    return {consortium.blind_index(HINT_FIELD, f"{name}|{year}|{citizenship}") for name in names}


#: The person fields a hint is made of.
HINT_FIELDS: Final = (*NAME_FIELDS, "birth_date", "citizenship")
