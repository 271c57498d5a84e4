"""Sealing for one tenant: only that tenant, with that context, opens it."""

from __future__ import annotations

import base64
import secrets
import uuid

import pytest

from tirek.crypto import FileKeyProvider, SealError, StaticKeyProvider, open_sealed, seal

KEY = StaticKeyProvider(base64.b64encode(secrets.token_bytes(32)).decode())
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
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealError):
        open_sealed(KEY, tenant=OSH, purpose="share", sealed=tampered, context=b"r1")


def test_the_local_key_file_is_created_once_and_private(tmp_path) -> None:
    path = tmp_path / "keys" / "master.key"
    first = FileKeyProvider(path).master_key()
    assert FileKeyProvider(path).master_key() == first
    assert path.stat().st_mode & 0o077 == 0


def test_a_blind_index_is_stable_per_tenant_and_field_and_reveals_nothing() -> None:
    from tirek.crypto import blind_index

    one = blind_index(KEY, tenant=OSH, field="name", value="sabirav tahir")
    assert one == blind_index(KEY, tenant=OSH, field="name", value="sabirav tahir")
    assert one != blind_index(KEY, tenant=NUK, field="name", value="sabirav tahir")
    assert one != blind_index(KEY, tenant=OSH, field="document", value="sabirav tahir")
    assert "sabirav" not in one and len(one) == 32


def test_a_consortium_index_meets_across_tenants_but_not_tenant_indexes_or_other_keys() -> None:
    from tirek.crypto import blind_index, consortium_index

    value = "sabirav tahir|1998|TJ"
    one = consortium_index(KEY, field="person", value=value)
    assert one == consortium_index(KEY, field="person", value=value), "not stable"
    assert one != consortium_index(KEY, field="other", value=value), "fields share a key"
    assert one != consortium_index(KEY, field="person", value="sabirav tahir|1999|TJ")
    # Unrelated to every tenant's own blind index of the same value, and to another master key.
    assert one not in {blind_index(KEY, tenant=t, field="person", value=value) for t in (OSH, NUK)}
    other_key = StaticKeyProvider(base64.b64encode(secrets.token_bytes(32)).decode())
    assert one != consortium_index(other_key, field="person", value=value)
    assert "sabirav" not in one and len(one) == 32
