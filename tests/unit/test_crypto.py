"""The kernel's keys and ciphers as plain functions: wrapping, sealing, fields, blind indexes."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import date

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tirek.crypto import (
    DecryptionError,
    FieldRef,
    FileKeyProvider,
    KeyUnavailable,
    RecordNotOpened,
    SealedField,
    SealError,
    StaticKeyProvider,
    TenantKeys,
    open_record,
    open_sealed,
    seal,
    seal_record,
)
from tirek.crypto.aead import decrypt_field, encrypt_field
from tirek.crypto.blind import blind_index
from tirek.crypto.kek import kek_id_of


def encoded() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


KEY = StaticKeyProvider(encoded())
OSH, NUK = uuid.uuid4(), uuid.uuid4()


def test_a_sealed_package_opens_for_its_tenant_and_context() -> None:
    sealed = seal(KEY, tenant=OSH, purpose="share", plaintext="Сабиров".encode(), context=b"r1")
    assert "Сабиров".encode() not in sealed.encode()
    assert (
        open_sealed(KEY, tenant=OSH, purpose="share", sealed=sealed, context=b"r1")
        == "Сабиров".encode()
    )


@pytest.mark.parametrize(
    ("tenant", "purpose", "context"),
    [(NUK, "share", b"r1"), (OSH, "other", b"r1"), (OSH, "share", b"r2")],
)
def test_a_sealed_package_does_not_open_elsewhere(
    tenant: uuid.UUID, purpose: str, context: bytes
) -> None:
    sealed = seal(KEY, tenant=OSH, purpose="share", plaintext=b"x", context=b"r1")
    with pytest.raises(SealError):
        open_sealed(KEY, tenant=tenant, purpose=purpose, sealed=sealed, context=context)


def test_a_tampered_package_does_not_open() -> None:
    sealed = seal(KEY, tenant=OSH, purpose="share", plaintext=b"data", context=b"r1")
    # One bit of the ciphertext's tag flipped. (Changing the base64 text's second-to-last
    # character instead changed only padding bits one time in sixteen: the same bytes, opened.)
    head, data = sealed.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(data))
    raw[-1] ^= 0x01
    tampered = f"{head}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(SealError):
        open_sealed(KEY, tenant=OSH, purpose="share", sealed=tampered, context=b"r1")


def test_a_package_sealed_under_the_old_master_key_opens_while_it_is_accepted() -> None:
    old, new = encoded(), encoded()
    sealed = seal(StaticKeyProvider(old), tenant=OSH, purpose="share", plaintext=b"x", context=b"")
    during = StaticKeyProvider(new, old)
    assert open_sealed(during, tenant=OSH, purpose="share", sealed=sealed, context=b"") == b"x"
    with pytest.raises(SealError):  # the old key retired
        open_sealed(StaticKeyProvider(new), tenant=OSH, purpose="share", sealed=sealed, context=b"")


def test_a_wrapped_key_unwraps_only_with_its_master_key_and_context() -> None:
    old, new = encoded(), encoded()
    wrapped = StaticKeyProvider(old).wrap(b"k" * 32, context=b"tenant-a")
    assert StaticKeyProvider(new, [old]).unwrap(wrapped, context=b"tenant-a") == b"k" * 32
    with pytest.raises(KeyUnavailable):
        StaticKeyProvider(new).unwrap(wrapped, context=b"tenant-a")
    with pytest.raises(KeyUnavailable):
        StaticKeyProvider(old).unwrap(wrapped, context=b"tenant-b")


def test_the_local_key_file_is_created_once_private_and_rotates(tmp_path) -> None:
    path = tmp_path / "keys" / "master.key"
    provider = FileKeyProvider(path)
    first = provider.current_kek_id()
    assert FileKeyProvider(path).current_kek_id() == first
    assert path.stat().st_mode & 0o077 == 0
    wrapped = provider.wrap(b"k" * 32, context=b"c")

    old, new = provider.rotate()
    assert old == first and new != first and provider.current_kek_id() == new
    assert provider.accepted_path.stat().st_mode & 0o077 == 0
    assert provider.unwrap(wrapped, context=b"c") == b"k" * 32, "the old key is still accepted"
    assert provider.retire(old)
    with pytest.raises(KeyUnavailable):
        provider.unwrap(wrapped, context=b"c")


def test_a_master_key_id_reveals_nothing_of_the_key() -> None:
    key = secrets.token_bytes(32)
    assert kek_id_of(key) == kek_id_of(key) and key.hex()[:16] != kek_id_of(key)


def ref(**changes: object) -> FieldRef:
    values: dict[str, object] = {"tenant": OSH, "table": "persons", "row": "r1", "field": "name"}
    values.update(changes)
    return FieldRef(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "elsewhere",
    [ref(row="r2"), ref(field="phone"), ref(tenant=NUK), ref(table="cases")],
    ids=["another row", "another field", "another tenant", "another table"],
)
def test_a_field_moved_anywhere_else_fails_loudly(elsewhere: FieldRef) -> None:
    key = AESGCM(secrets.token_bytes(32))
    token = encrypt_field(key, 1, ref(), "Сабиров Тахир")
    assert decrypt_field(key, ref(), token) == "Сабиров Тахир"
    with pytest.raises(DecryptionError, match="moved from another row, field or tenant"):
        decrypt_field(key, elsewhere, token)


def test_a_field_under_another_key_or_tampered_fails_loudly() -> None:
    key = AESGCM(secrets.token_bytes(32))
    token = encrypt_field(key, 1, ref(), "x")
    with pytest.raises(DecryptionError):
        decrypt_field(AESGCM(secrets.token_bytes(32)), ref(), token)
    with pytest.raises(DecryptionError):
        decrypt_field(key, ref(), token[:-3] + "AAA")
    with pytest.raises(DecryptionError):
        decrypt_field(key, ref(), "plain text")


def test_a_blind_index_is_stable_per_key_and_field_and_reveals_nothing() -> None:
    key, other = secrets.token_bytes(32), secrets.token_bytes(32)
    one = blind_index(key, field="name", value="sabirav tahir")
    assert one == blind_index(key, field="name", value="sabirav tahir")
    assert one != blind_index(other, field="name", value="sabirav tahir")
    assert one != blind_index(key, field="document", value="sabirav tahir")
    assert "sabirav" not in one and len(one) == 32


class Note:
    """A stand-in for an ORM record with sealed fields."""

    __tablename__ = "notes"
    __key_owner__ = "tenant_id"
    __key_row__ = "id"
    body = SealedField()
    born = SealedField("date")
    papers = SealedField("json", empty=[])

    def __init__(self) -> None:
        self.id = uuid.uuid4()
        self.tenant_id = OSH
        self.key_version: int | None = None
        self.body_sealed: str | None = None
        self.born_sealed: str | None = None
        self.papers_sealed: str | None = None


def test_a_record_is_sealed_whole_and_opened_back() -> None:
    tenant_keys = TenantKeys(OSH, 1, {1: AESGCM(secrets.token_bytes(32))}, b"b" * 32)
    note = Note()
    note.body = "Улица Абая 12"
    note.born = date(1996, 7, 14)
    note.papers = [{"number": "AC7654321"}]
    seal_record(note, tenant_keys)
    assert note.key_version == 1
    stored = (note.body_sealed or "") + (note.born_sealed or "") + (note.papers_sealed or "")
    assert "Абая" not in stored and "1996" not in stored and "AC76" not in stored

    again = Note()
    again.id, again.key_version = note.id, 1
    again.body_sealed, again.born_sealed, again.papers_sealed = (
        note.body_sealed,
        note.born_sealed,
        note.papers_sealed,
    )
    with pytest.raises(RecordNotOpened):
        _ = again.body
    open_record(again, tenant_keys)
    assert (again.body, again.born, again.papers) == (
        "Улица Абая 12",
        date(1996, 7, 14),
        [{"number": "AC7654321"}],
    )


def test_a_record_from_before_encryption_reads_as_plaintext_until_sealed() -> None:
    tenant_keys = TenantKeys(OSH, 1, {1: AESGCM(secrets.token_bytes(32))}, b"b" * 32)
    legacy = Note()
    legacy.body_sealed, legacy.born_sealed, legacy.papers_sealed = "note", "1990-01-02", "[]"
    open_record(legacy, tenant_keys)
    assert (legacy.body, legacy.born, legacy.papers) == ("note", date(1990, 1, 2), [])
    seal_record(legacy, tenant_keys)
    assert legacy.key_version == 1 and legacy.body_sealed != "note"


def test_a_record_under_a_destroyed_key_version_cannot_be_read() -> None:
    old, new = AESGCM(secrets.token_bytes(32)), AESGCM(secrets.token_bytes(32))
    note = Note()
    note.body = "x"
    seal_record(note, TenantKeys(OSH, 1, {1: old}, b"b" * 32))
    with pytest.raises(KeyUnavailable, match=r"no\s+longer exists"):
        open_record(note, TenantKeys(OSH, 2, {2: new}, b"b" * 32))
