"""Blind indexes of a person's name and document numbers, for exact search and duplicates.

Names are indexed by their cross-alphabet key (:func:`intake.names.name_key`), so "Сабиров
Тахир" and "Sabirov Takhir" find each other; document numbers in capitals without separators.
Only keyed HMACs are stored (:func:`tirek.crypto.blind_index`, one key per tenant and field):
the index tells whether two values are equal, never what they are.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from intake.names import name_key
from tirek.crypto import KeyProvider, blind_index

NAME_FIELDS = ("first_name", "second_name", "patronymic", "name_latin")


def normalise_document(number: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", number.upper())


def name_keys(
    *,
    first_name: str | None,
    second_name: str | None,
    patronymic: str | None,
    name_latin: str | None,
) -> set[str]:
    """The keys of the name as written in its original script and in Latin letters."""
    original = " ".join(p for p in (first_name, second_name, patronymic) if p)
    return {key for key in (name_key(original), name_key(name_latin or "")) if key}


def name_indexes(keys: KeyProvider, tenant: uuid.UUID, full_names: Iterable[str]) -> list[str]:
    """Blind indexes of free-form full names (a search query)."""
    found = {name_key(n) for n in full_names} - {""}
    return sorted(blind_index(keys, tenant=tenant, field="name", value=k) for k in found)


def person_indexes(
    keys: KeyProvider, tenant: uuid.UUID, person: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    """(name indexes, document indexes) of a person given as a mapping of its fields."""
    names = name_keys(**{field: person.get(field) for field in NAME_FIELDS})
    documents = {
        normalise_document(str(doc["number"]))
        for doc in person.get("documents") or []
        if doc.get("number")
    } - {""}
    return (
        sorted(blind_index(keys, tenant=tenant, field="name", value=k) for k in names),
        sorted(blind_index(keys, tenant=tenant, field="document", value=d) for d in documents),
    )
