"""Local verification of OIDC access tokens against the issuer's published keys (JWKS).

What a token must pass, in order:

1. compact JWS form (three base64url parts, no JSON serialization, no JWE), at most 16 KiB;
2. header: ``alg`` in the configured allow-list (asymmetric algorithms only — ``none`` and
   HS* are refused when the verifier is built, so a token HMAC-signed with the public key
   never verifies), a ``kid``, and no ``crit``. Key-carrying headers (``jku``, ``x5u``,
   ``jwk``, ``x5c``) are ignored: keys come only from the configured issuer's JWKS;
3. signature, with the JWKS key named by ``kid``. An unknown ``kid`` causes at most one
   refetch of the JWKS per ``refetch_interval`` seconds, shared by concurrent callers, so a
   rotated key is picked up and a flood of forged ``kid`` values cannot hammer the issuer;
4. claims: ``iss`` equal to the issuer, ``aud`` (string or list) containing the audience,
   ``exp`` present and not past, ``nbf`` (when present) not in the future — both with a
   leeway of :data:`LEEWAY_SECONDS` for clock skew between hosts — ``sub`` present, and a
   ``typ`` claim, when present, of ``Bearer`` (so an ID or refresh token is not accepted as
   an access token);
5. tenant and roles: see :func:`principal_from_claims` and :func:`tenant_from_claims`.

jwcrypto does the signature work; the claim checks are explicit here rather than through
jwcrypto's ``check_claims`` (which silently skips ``exp`` unless it is named — PITFALLS.md).

A token whose signature verified is remembered (by its SHA-256, never the token itself) with
its claims and the key that verified it: a caseworker sends the same token with every request
for minutes, and checking its RSA signature and parsing it again cost intake a twentieth of a
registration. A remembered token still passes step 4 on every request (so it expires on
time), and only while the issuer's keys are the ones that verified it: a refetched JWKS
forgets every remembered token.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

import httpx
from jwcrypto.common import base64url_decode
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from tirek.auth.principal import Principal, Role

logger = logging.getLogger(__name__)

#: Seconds of clock skew tolerated on ``exp`` and ``nbf``.
LEEWAY_SECONDS = 30

#: Algorithms a verifier may be configured with. Symmetric (HS*) and ``none`` are never
#: accepted: with a JWKS of public keys, an HMAC "signature" proves nothing.
SUPPORTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

_MAX_TOKEN_LENGTH = 16 * 1024
#: Verified tokens remembered per verifier (least recently used forgotten first).
VERIFIED_TOKENS_REMEMBERED = 4096
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
_KNOWN_ROLES = {role.value: role for role in Role}

#: The organization attribute holding Tirek's tenant id (set by admin when it creates the
#: organization; mapped into the token's ``organization`` claim).
TENANT_ATTRIBUTE = "tirek_tenant_id"


class InvalidToken(Exception):
    """The token cannot be trusted. ``reason`` is short and safe to return to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenVerifier:
    """Verifies access tokens of one issuer for one audience, with the issuer's JWKS cached.

    ``issuer`` is the exact ``iss`` value (e.g. ``http://127.0.0.1:8080/realms/tirek``). The
    JWKS location is discovered from ``{issuer}/.well-known/openid-configuration``
    (``jwks_uri``), falling back to Keycloak's ``{issuer}/protocol/openid-connect/certs``.
    Pass ``http_client`` to share a client (it is then not closed by :meth:`aclose`).
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        refetch_interval: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not algorithms:
            raise ValueError("at least one signing algorithm must be allowed")
        refused = [alg for alg in algorithms if alg not in SUPPORTED_ALGORITHMS]
        if refused:
            raise ValueError(
                f"signing algorithms {refused} are not allowed; "
                f"choose from {sorted(SUPPORTED_ALGORITHMS)} (never none or HS*)"
            )
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.algorithms = frozenset(algorithms)
        self.refetch_interval = refetch_interval
        self._client = http_client or httpx.AsyncClient(timeout=5.0)
        self._owns_client = http_client is None
        self._keys: dict[str, JWK] = {}
        self._jwks_uri: str | None = None
        #: time.monotonic() when the last JWKS fetch (successful or not) finished.
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        #: SHA-256 of a verified token → (its ``kid``, the key that verified it, its claims).
        self._verified: OrderedDict[bytes, tuple[str, JWK, dict[str, Any]]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """Return the principal of a valid access token; raise :class:`InvalidToken` otherwise."""
        digest = hashlib.sha256(token.encode()).digest() if len(token) <= _MAX_TOKEN_LENGTH else b""
        known = self._verified.get(digest)
        if known is not None and self._keys.get(known[0]) is known[1]:
            try:
                self._check_claims(known[2])
            except InvalidToken:
                del self._verified[digest]
                raise
            self._verified.move_to_end(digest)
            return principal_from_claims(known[2])
        header = _read_header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken("signing algorithm not allowed")
        if "crit" in header:
            raise InvalidToken("critical header extensions are not supported")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no key id")
        key = await self._key_for(kid)
        claims = _verified_claims(token, key, alg)
        self._check_claims(claims)
        principal = principal_from_claims(claims)
        self._verified[digest] = (kid, key, claims)
        if len(self._verified) > VERIFIED_TOKENS_REMEMBERED:
            self._verified.popitem(last=False)
        return principal

    async def aclose(self) -> None:
        """Close the HTTP client if the verifier created it."""
        if self._owns_client:
            await self._client.aclose()

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        iss = claims.get("iss")
        if not isinstance(iss, str) or iss.rstrip("/") != self.issuer:
            raise InvalidToken("token from another issuer")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.audience not in audiences:
            raise InvalidToken("token not meant for this service")
        now = time.time()
        exp = claims.get("exp")
        if not _is_number(exp):
            raise InvalidToken("token has no expiry")
        if now > exp + LEEWAY_SECONDS:
            raise InvalidToken("token expired")
        nbf = claims.get("nbf")
        if nbf is not None:
            if not _is_number(nbf):
                raise InvalidToken("unreadable nbf claim")
            if now + LEEWAY_SECONDS < nbf:
                raise InvalidToken("token not yet valid")
        typ = claims.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() != "bearer"):
            raise InvalidToken("not an access token")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("token has no subject")

    async def _key_for(self, kid: str) -> JWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        asked_at = time.monotonic()
        fetch_failed = False
        async with self._lock:
            key = self._keys.get(kid)
            if key is None and self._may_fetch(asked_at):
                fetch_failed = not await self._fetch_keys()
                key = self._keys.get(kid)
        if key is None:
            raise InvalidToken(
                "issuer signing keys unavailable" if fetch_failed else "unknown signing key"
            )
        return key

    def _may_fetch(self, asked_at: float) -> bool:
        if self._fetched_at is None:
            return True
        if self._fetched_at >= asked_at:
            # A fetch finished after we asked (it was in flight while we waited for the lock):
            # share its result rather than fetch again.
            return False
        return time.monotonic() - self._fetched_at >= self.refetch_interval

    async def _fetch_keys(self) -> bool:
        """Replace the cached key set with the issuer's current one; False when unreachable."""
        try:
            jwks_uri = await self._discover_jwks_uri()
            response = await self._client.get(jwks_uri)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("could not fetch the issuer's JWKS: %s", type(exc).__name__)
            return False
        finally:
            self._fetched_at = time.monotonic()
        self._keys = _parse_jwks(document)
        logger.info("fetched %d signing keys from the issuer", len(self._keys))
        return True

    async def _discover_jwks_uri(self) -> str:
        if self._jwks_uri is not None:
            return self._jwks_uri
        response = await self._client.get(f"{self.issuer}/.well-known/openid-configuration")
        jwks_uri: object = None
        if response.status_code == httpx.codes.OK:
            document = response.json()
            if isinstance(document, dict):
                jwks_uri = document.get("jwks_uri")
        elif response.status_code != httpx.codes.NOT_FOUND:
            response.raise_for_status()
        if not isinstance(jwks_uri, str) or not jwks_uri:
            jwks_uri = f"{self.issuer}/protocol/openid-connect/certs"
        self._jwks_uri = jwks_uri
        return jwks_uri


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build the principal from already verified claims.

    Tenant: Keycloak's ``organization`` claim in any of its shapes, or a plain ``tenant``
    claim (see :func:`tenant_from_claims`). Roles come from ``realm_access.roles``; roles
    Tirek does not know (``offline_access``, ``default-roles-tirek``) are ignored.
    ``language`` is the ``locale`` claim, ``ru`` when absent.
    """
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidToken("token has no subject")
    username = claims.get("preferred_username")
    locale = claims.get("locale")
    return Principal(
        user_id=sub,
        username=username if isinstance(username, str) and username else sub,
        tenant_id=tenant_from_claims(claims),
        roles=_roles_from_claims(claims),
        language=locale if isinstance(locale, str) and locale else "ru",
    )


def _read_header(token: str) -> dict[str, Any]:
    if len(token) > _MAX_TOKEN_LENGTH or _COMPACT_JWS.fullmatch(token) is None:
        raise InvalidToken("malformed token")
    try:
        header = json.loads(base64url_decode(token.split(".", 1)[0]))
    except ValueError:
        raise InvalidToken("malformed token") from None
    if not isinstance(header, dict):
        raise InvalidToken("malformed token")
    return header


def _verified_claims(token: str, key: JWK, alg: str) -> dict[str, Any]:
    key_alg = key.get("alg")
    if key_alg is not None and key_alg != alg:
        raise InvalidToken("signing algorithm does not match the key")
    jws = JWS()
    jws.allowed_algs = [alg]
    try:
        jws.deserialize(token)
        jws.verify(key, alg=alg)
        claims = json.loads(jws.payload)
    except Exception:  # jwcrypto raises many types; the caller only learns "bad signature"
        raise InvalidToken("bad signature") from None
    if not isinstance(claims, dict):
        raise InvalidToken("malformed token")
    return claims


def _parse_jwks(document: object) -> dict[str, JWK]:
    """Public signing keys by ``kid``; encryption keys, symmetric keys and junk are skipped."""
    keys: dict[str, JWK] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return keys
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if entry.get("use", "sig") != "sig" or entry.get("kty") not in _ASYMMETRIC_KEY_TYPES:
            continue
        try:
            jwk = JWK(**entry)
            # Only the public half, even if an issuer wrongly published a private key.
            keys[kid] = JWK(**jwk.export_public(as_dict=True))
        except Exception:  # a malformed entry must not hide the good ones
            logger.warning("skipping an unreadable key in the issuer's JWKS")
    return keys


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def tenant_from_claims(claims: Mapping[str, Any]) -> uuid.UUID:
    """The one tenant a verified token acts for; :class:`InvalidToken` when none or several.

    Tirek's tenant id is Tirek's own (admin creates it), not the identity provider's
    organization id: Keycloak assigns organization ids itself. So each organization carries
    the tenant id as its attribute :data:`TENANT_ATTRIBUTE`, and the realm's organization
    membership mapper (``addOrganizationAttributes``, JSON, multivalued) puts it in the token
    (``deploy/keycloak/tirek-realm.json``; the development issuer emits the same layout).

    Accepted shapes of the ``organization`` claim (PITFALLS.md: Keycloak's mapper emits any of
    them, depending on its configuration):

    - dict ``alias -> {"id": <organization id>, "tirek_tenant_id": [<tenant id>], ...}``: the
      tenant is the attribute (a one-element list, as Keycloak maps attributes, or a string).
      An entry without it is refused: the organization id alone is not a tenant id, and
      guessing would give the caller a tenant nobody onboarded;
    - a list of tenant ids, or one tenant id as a string (the mapper's non-JSON forms carry
      organization *aliases*: they name a tenant only where the alias is the tenant id).

    A plain ``tenant`` claim (a tenant id) is accepted too. Every value must be a UUID; all the
    claims together must name exactly one tenant.
    """
    found: set[uuid.UUID] = set()
    if "organization" in claims:
        found |= _tenants_from_organization(claims["organization"])
    if "tenant" in claims:
        found.add(_as_tenant_id(claims["tenant"]))
    if not found:
        raise InvalidToken("token names no tenant")
    if len(found) > 1:
        raise InvalidToken("token names more than one tenant")
    return found.pop()


def _tenants_from_organization(organization: object) -> set[uuid.UUID]:
    if isinstance(organization, str):
        return {_as_tenant_id(organization)}
    if isinstance(organization, list):
        return {_as_tenant_id(item) for item in organization}
    if isinstance(organization, dict):
        return {_tenant_of_membership(details) for details in organization.values()}
    raise InvalidToken("unreadable organization claim")


def _tenant_of_membership(details: object) -> uuid.UUID:
    if not isinstance(details, dict) or TENANT_ATTRIBUTE not in details:
        raise InvalidToken("organization carries no tenant id")
    value = details[TENANT_ATTRIBUTE]
    if isinstance(value, list):
        # Keycloak maps every organization attribute as a list of strings.
        if len(value) != 1:
            raise InvalidToken("organization carries no single tenant id")
        value = value[0]
    return _as_tenant_id(value)


def _as_tenant_id(value: object) -> uuid.UUID:
    if not isinstance(value, str):
        raise InvalidToken("tenant is not an id")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidToken("tenant is not an id") from None


def _roles_from_claims(claims: Mapping[str, Any]) -> frozenset[Role]:
    realm_access = claims.get("realm_access")
    names = realm_access.get("roles") if isinstance(realm_access, dict) else None
    if not isinstance(names, list):
        return frozenset()
    return frozenset(
        _KNOWN_ROLES[name] for name in names if isinstance(name, str) and name in _KNOWN_ROLES
    )
