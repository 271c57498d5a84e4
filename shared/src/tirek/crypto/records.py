"""Personal fields of ORM records stored only as ciphertext: declare, open, seal.

A model declares each personal field twice: the mapped column holding the ciphertext, named
``<field>_sealed`` in Python (its database column keeps the field's name), and a
:class:`SealedField` descriptor under the field's own name, which the rest of the code reads
and writes as before (``person.first_name``, ``case.notes``)::

    class Person(SealedRecord, TenantOwned, Base):
        first_name = SealedField()
        first_name_sealed: Mapped[str | None] = mapped_column("first_name", Text)

Nothing is decrypted or encrypted behind the code's back. A use case

- reads: ``open_record(record, keys)`` decrypts every sealed field (or raises
  :class:`DecryptionError`); reading a field of a record not opened raises
  :class:`RecordNotOpened`, never answers ``None``;
- writes: sets the fields, then ``seal_record(record, keys)`` encrypts all of them with the
  current data key (a row's fields are always under one key version, ``key_version``). A
  record changed but not sealed when the session flushes raises :class:`UnsealedWrite`.

Each ciphertext is bound to (owner tenant, table, row id, field); the owner tenant is the
column named by ``__key_owner__`` (``tenant_id`` unless the model says otherwise), the row id
the column named by ``__key_row__`` (``id``).
``key_version`` NULL marks a row written before encryption existed: its columns hold
plaintext, which :func:`open_record` still reads and the service's re-encryption seals.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal

from sqlalchemy import Integer, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from tirek.crypto.aead import FieldRef
from tirek.crypto.errors import RecordNotOpened, UnsealedWrite, UnstorableText
from tirek.crypto.keyring import Keyring, TenantKeys

__all__ = [
    "SealedField",
    "SealedRecord",
    "ensure_sealed",
    "field_ref",
    "is_opened",
    "key_owner",
    "open_exported_rows",
    "open_record",
    "seal_record",
    "sealed_fields",
]

Kind = Literal["text", "date", "json"]
_CLEAR: Final = "_tirek_clear"
_UNSEALED: Final = "_tirek_unsealed"


class SealedField:
    """A personal field whose value lives, encrypted, in the mapped column ``<name>_sealed``.

    ``kind`` says how the value is written as text before encryption: ``text`` as it is,
    ``date`` in ISO form, ``json`` as JSON. ``empty`` is what a NULL column reads as.
    """

    def __init__(self, kind: Kind = "text", *, empty: Any = None) -> None:
        self.kind: Kind = kind
        self._empty = empty
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @property
    def column(self) -> str:
        return f"{self.name}_sealed"

    def empty(self) -> Any:
        return list(self._empty) if isinstance(self._empty, list) else self._empty

    def __get__(self, record: object, owner: type | None = None) -> Any:
        if record is None:
            return self
        clear = record.__dict__.get(_CLEAR)
        if clear is None:
            raise RecordNotOpened(
                f"{type(record).__name__}.{self.name} was read before the record was opened "
                "(tirek.crypto.records.open_record)"
            )
        return clear.get(self.name, self.empty())

    def __set__(self, record: object, value: Any) -> None:
        record.__dict__.setdefault(_CLEAR, {})[self.name] = value
        record.__dict__[_UNSEALED] = True

    def to_text(self, value: Any) -> str:
        if self.kind == "date":
            return value.isoformat() if isinstance(value, date) else str(value)
        text = (
            json.dumps(value, ensure_ascii=False, sort_keys=True)
            if self.kind == "json"
            else str(value)
        )
        if "\x00" in text or "\\u0000" in text:
            raise UnstorableText(f"{self.name} holds a NUL character")
        return text

    def from_text(self, text: str) -> Any:
        if self.kind == "date":
            return date.fromisoformat(text)
        if self.kind == "json":
            return json.loads(text)
        return text


class SealedRecord:
    """Mixin of a model with :class:`SealedField` s: the row's data-key version."""

    #: The column naming the tenant whose keys encrypt the row.
    __key_owner__: ClassVar[str] = "tenant_id"
    #: The column holding the row's id (what each ciphertext is bound to besides the field).
    __key_row__: ClassVar[str] = "id"

    #: Version of the owner's data key that encrypted every sealed field of the row; NULL for
    #: a row from before encryption (plaintext, sealed by the next re-encryption).
    key_version: Mapped[int | None] = mapped_column(Integer, nullable=True)


_FIELDS: dict[type, Mapping[str, SealedField]] = {}


def sealed_fields(model: type) -> Mapping[str, SealedField]:
    """The model's sealed fields by name (inherited ones included). Read once per model: a
    class's fields are fixed when it is defined, and every seal and open asks for them."""
    known = _FIELDS.get(model)
    if known is None:
        found: dict[str, SealedField] = {}
        for klass in reversed(model.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, SealedField):
                    found[name] = value
        known = _FIELDS[model] = MappingProxyType(found)
    return known


def key_owner(record: object) -> uuid.UUID:
    owner: uuid.UUID = getattr(record, type(record).__key_owner__)  # type: ignore[attr-defined]
    return owner


def field_ref(record: object, name: str) -> FieldRef:
    """Where ``record``'s field ``name`` is stored (what its ciphertext is bound to)."""
    row = getattr(record, type(record).__key_row__)  # type: ignore[attr-defined]
    if row is None:
        raise ValueError(f"{type(record).__name__} needs its id before it is sealed")
    return FieldRef(key_owner(record), record.__tablename__, row, name)  # type: ignore[attr-defined]


def is_opened(record: object) -> bool:
    return _CLEAR in record.__dict__


def open_record(record: object, keys: TenantKeys) -> None:
    """Decrypt every sealed field of ``record`` for reading; raises
    :class:`~tirek.crypto.errors.DecryptionError` for a value that does not belong here."""
    version = record.key_version  # type: ignore[attr-defined]
    clear: dict[str, Any] = {}
    for name, spec in sealed_fields(type(record)).items():
        stored = getattr(record, spec.column)
        if stored is None:
            clear[name] = spec.empty()
        elif version is None:  # written before encryption: plaintext until re-encrypted
            clear[name] = spec.from_text(stored)
        else:
            clear[name] = spec.from_text(keys.decrypt(field_ref(record, name), stored))
    record.__dict__[_CLEAR] = clear
    record.__dict__.pop(_UNSEALED, None)


def seal_record(record: object, keys: TenantKeys) -> None:
    """Encrypt every sealed field of ``record`` with the current data key (``None`` stays
    NULL); the record must have been opened, or created with its fields set."""
    clear = record.__dict__.get(_CLEAR)
    if clear is None:
        raise RecordNotOpened(f"{type(record).__name__} was sealed before it was opened")
    for name, spec in sealed_fields(type(record)).items():
        value = clear.get(name, spec.empty())
        setattr(
            record,
            spec.column,
            None if value is None else keys.encrypt(field_ref(record, name), spec.to_text(value)),
        )
    record.key_version = keys.current_version  # type: ignore[attr-defined]
    record.__dict__.pop(_UNSEALED, None)


def sealed_models(base: Any) -> list[type]:
    """Every mapped class of a declarative ``base`` that has sealed fields."""
    return [
        mapper.class_
        for mapper in base.registry.mappers
        if issubclass(mapper.class_, SealedRecord) and sealed_fields(mapper.class_)
    ]


async def open_exported_rows(
    tables: dict[str, list[dict[str, Any]]], *, base: Any, keyring: Keyring, tenant: uuid.UUID
) -> None:
    """Decrypt, in place, the sealed columns of rows exported as JSON-ready dicts (a leaving
    NGO's export, :func:`tirek.db.erasure.export_tenant`), for ``tenant``.

    A value sealed under another tenant's key (a share package sealed for the receiving NGO,
    in the sender's export) is withheld as ``None``: it was never the exporting NGO's to read.
    The wrapped keys themselves (``data_keys``) are left out: they open nothing without the
    master key, which the export never carries.
    """
    tables.pop("data_keys", None)
    for model in sealed_models(base):
        table: str = getattr(model, "__tablename__")  # noqa: B009 (mapped classes have one)
        rows = tables.get(table)
        if not rows:
            continue
        specs = sealed_fields(model)
        mapper: Any = getattr(model, "__mapper__")  # noqa: B009
        columns = {name: mapper.attrs[spec.column].columns[0].name for name, spec in specs.items()}
        owner_column: str = getattr(model, "__key_owner__")  # noqa: B009
        row_column: str = getattr(model, "__key_row__")  # noqa: B009
        for row in rows:
            owner = uuid.UUID(str(row[owner_column]))
            version = row.get("key_version")
            for name, column in columns.items():
                stored = row.get(column)
                if stored is None or version is None:  # NULL, or plaintext from before
                    continue
                if owner != tenant:
                    row[column] = None
                    continue
                keys = await keyring.keys(owner, version=int(version))
                ref = FieldRef(owner, table, row[row_column], name)
                value = specs[name].from_text(keys.decrypt(ref, stored))
                row[column] = value.isoformat() if isinstance(value, date) else value


def ensure_sealed(record: object) -> None:
    """Raise :class:`UnsealedWrite` if a personal field of ``record`` was set and not sealed
    since: what every write of a record checks first (a flush, :func:`tirek.db.inserts.insert_new`)."""
    if record.__dict__.get(_UNSEALED):
        raise UnsealedWrite(
            f"{type(record).__name__} {getattr(record, 'id', '')} has personal fields set "
            "but not sealed (tirek.crypto.records.seal_record) before it was written"
        )


@event.listens_for(Session, "before_flush")
def _refuse_unsealed_writes(session: Session, flush_context: Any, instances: Any) -> None:
    # Fields set through a SealedField do not make a record "dirty" for SQLAlchemy: look at
    # every record the session holds.
    for record in (*session.new, *session.identity_map.values()):
        ensure_sealed(record)
