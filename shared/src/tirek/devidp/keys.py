"""The issuer's RSA signing key, generated once and reused on every restart."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK

from tirek.devidp.files import create_private_file

SIGNING_ALGORITHM = "RS256"
KEY_FILE = "signing-key.json"


def load_signing_key(data_dir: Path) -> JWK:
    """The private signing key stored in ``data_dir``, created (RSA 2048) on first use.

    Its ``kid`` is the RFC 7638 thumbprint, so it changes only when the key does.
    """
    path = data_dir / KEY_FILE
    if not path.exists():
        fresh = JWK.generate(kty="RSA", size=2048)
        material = fresh.export_private(as_dict=True)
        material.update(kid=fresh.thumbprint(), alg=SIGNING_ALGORITHM, use="sig")
        create_private_file(path, JWK(**material).export_private())
    return JWK.from_json(path.read_text(encoding="utf-8"))


def public_jwk(key: JWK) -> dict[str, str]:
    """The public half as published in the JWKS."""
    public: dict[str, str] = key.export_public(as_dict=True)
    return public


def public_key_base64(key: JWK) -> str:
    """The public key as Keycloak's realm endpoint shows it: base64 DER SubjectPublicKeyInfo."""
    der = key.get_op_key("verify").public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")
