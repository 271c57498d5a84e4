"""Blind indexes of a person's name and document numbers, for exact search and duplicates.

Names are indexed by their cross-alphabet key (:func:`intake.names.name_key`), so "Сабиров
Тахир" and "Sabirov Takhir" find each other; document numbers in capitals without separators.
Only keyed HMACs are stored (:func:`tirek.crypto.blind.blind_index`, with the NGO's own
blind-index key and a subkey per field): the index tells whether two values are equal, never
what they are, and survives a new master key.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import BindParameter, Select, Text, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.selectable import TableValuedAlias

from intake.names import name_key
from intake.persons.models import Person
from tirek.crypto import TenantKeys

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


def matched_persons(
    names: Collection[str] | BindParameter[Any], documents: Collection[str] | BindParameter[Any]
) -> TableValuedAlias:
    """The current NGO's persons holding any of ``names`` (name blind indexes) or
    ``documents`` (document blind indexes), as a FROM item whose one column (``.column``) is
    their id: lists, or bound parameters of a statement built once.

    Through the database function of migrations 0008 and 0009, which uses the GIN indexes:
    under row-level security PostgreSQL cannot use them for array overlap (``&&`` is not
    leakproof), and every match read all of the NGO's persons.

    In FROM, PostgreSQL runs the function once per statement. In a select list, as it was
    first called, it may run again for every row an ``IN`` compares with it: once 0009 told
    the planner it returns about ten rows, a trial under ``make bench`` made 429,429 calls for
    1,822 registrations."""
    return func.persons_matching(
        names if isinstance(names, BindParameter) else cast(list(names), ARRAY(Text)),
        documents if isinstance(documents, BindParameter) else cast(list(documents), ARRAY(Text)),
    ).alias("matched_person")


def persons_matching(
    names: Collection[str] | BindParameter[Any], documents: Collection[str] | BindParameter[Any]
) -> Select[tuple[uuid.UUID]]:
    """Ids of :func:`matched_persons`, for ``IN``."""
    matched = matched_persons(names, documents)
    return select(matched.column)


def name_indexes(keys: TenantKeys, full_names: Iterable[str]) -> list[str]:
    """Blind indexes of free-form full names (a search query)."""
    found = {name_key(n) for n in full_names} - {""}
    return sorted(keys.blind_index("name", k) for k in found)


def document_index(keys: TenantKeys, number: str) -> str:
    """The blind index of a document number as anyone may write it."""
    return keys.blind_index("document", normalise_document(number))


def person_name_keys(person: Mapping[str, Any]) -> set[str]:
    """:func:`name_keys` of a person given as a mapping of its fields."""
    return name_keys(**{field: person.get(field) for field in NAME_FIELDS})


def person_indexes(
    keys: TenantKeys, person: Mapping[str, Any], *, names: Collection[str] | None = None
) -> tuple[list[str], list[str]]:
    """(name indexes, document indexes) of a person given as a mapping of its fields;
    ``names``: its :func:`person_name_keys`, when the caller has them already."""
    if names is None:
        names = person_name_keys(person)
    documents = {
        normalise_document(str(doc["number"]))
        for doc in person.get("documents") or []
        if doc.get("number")
    } - {""}
    return (
        sorted(keys.blind_index("name", k) for k in names),
        sorted(keys.blind_index("document", d) for d in documents),
    )


def index_person(person: Person, keys: TenantKeys, *, names: Collection[str] | None = None) -> None:
    """Recompute an opened person's blind indexes from their current name and documents
    (``names``: as for :func:`person_indexes`)."""
    person.name_indexes, person.document_indexes = person_indexes(
        keys, {field: getattr(person, field) for field in (*NAME_FIELDS, "documents")}, names=names
    )
