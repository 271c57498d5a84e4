"""``Idempotency-Key`` on every request that changes something (the HTTP side).

A client sends ``Idempotency-Key: <up to 255 visible ASCII characters>`` (a UUID is best; the
quoted form of the IETF draft, ``"..."``, is accepted too) with a ``POST``, ``PUT``, ``PATCH``
or ``DELETE`` and retries with the same key after a timeout or a dropped connection. The
retry answers with the first result (status and body, plus ``Idempotent-Replayed: true``)
instead of acting again. The key is scoped to the caller (tenant and user) and to the request:
the same key with another method, path or body answers 422; while the first request with a
key still runs, a second one waits for it (up to 10 s, then 409). Keys expire after 24 hours
(``TIREK_IDEMPOTENCY_KEY_TTL``). The storage and its transaction are
:mod:`tirek.db.idempotency`.

Wiring (done by :func:`tirek.web.create_service_app` and each service's ``Work``):

- :class:`IdempotencyMiddleware` reads the header, fingerprints method, path and body, and
  after the application answered stores a success in the use case's held transaction and
  commits it (an error answer rolls it back), before the client hears anything;
- :data:`Idempotency`, a dependency giving the request's :class:`IdempotentRequest` (or
  ``None``), which the service's unit of work factory passes to
  :class:`~tirek.db.UnitOfWork`;
- exception handlers answering a stored result, a reused key (422) and a key in use (409).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Request
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tirek.auth import CurrentPrincipal
from tirek.crypto import KeyProvider
from tirek.db.idempotency import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    IdempotentRequest,
    StoredResult,
)
from tirek.web.problems import PROBLEM_TYPE_BASE, problem_response

__all__ = [
    "HEADER",
    "REPLAYED_HEADER",
    "UNSAFE_METHODS",
    "Idempotency",
    "IdempotencyConfig",
    "IdempotencyMiddleware",
    "idempotent_request",
    "install_idempotency",
    "parse_key",
]

HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH: Final = 255
#: Where the middleware leaves the request's key for the dependency (an ASGI scope entry).
_SCOPE_ENTRY: Final = "tirek.idempotency"
_KEY: Final = re.compile(rf"^[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}$")

_log = logging.getLogger("tirek.web.idempotency")


class InvalidKey(ValueError):
    """The header is not a key we accept."""


def parse_key(raw: str) -> str:
    """The key of an ``Idempotency-Key`` header value (bare, or an RFC 8941 string)."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _KEY.match(value):
        raise InvalidKey(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (a UUID is best)"
        )
    return value


def fingerprint(scope: Scope, body: bytes) -> str:
    """SHA-256 of method, path, query and body: what makes two requests 'the same'."""
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b"")):
        digest.update(part)
        digest.update(b"\x00")
    digest.update(body)
    return digest.hexdigest()


@dataclass
class IdempotencyConfig:
    """``app.state.idempotency``: how keys are kept."""

    keys: KeyProvider
    ttl: timedelta


@dataclass
class _Incoming:
    """The key of one request, as the middleware read it; the dependency binds the caller."""

    key: str
    fingerprint: str
    request: IdempotentRequest | None = field(default=None)


async def idempotent_request(
    request: Request, principal: CurrentPrincipal
) -> IdempotentRequest | None:
    """The request's key bound to its caller, or ``None`` (no key, or a safe method)."""
    incoming = request.scope.get(_SCOPE_ENTRY)
    if not isinstance(incoming, _Incoming):
        return None
    if incoming.request is None:
        config: IdempotencyConfig = request.app.state.idempotency
        incoming.request = IdempotentRequest(
            key=incoming.key,
            fingerprint=incoming.fingerprint,
            tenant_id=principal.tenant_id,
            principal=principal.user_id,
            keys=config.keys,
            ttl=config.ttl,
        )
    return incoming.request


#: A view's (or unit of work factory's) ``Idempotency-Key``: pass it to ``UnitOfWork``.
Idempotency = Annotated[IdempotentRequest | None, Depends(idempotent_request)]


class IdempotencyMiddleware:
    """Reads ``Idempotency-Key`` of unsafe requests; commits a success with its answer.

    Buffers the request body (already bounded by the body size limit outside) to fingerprint
    it, and the response, so that nothing reaches the client before the effect and the stored
    answer committed. If that commit fails, the client gets 503 and a retry with the same key
    settles it (the stored answer if the commit went through after all, else the effect).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        raw = Headers(scope=scope).get(HEADER)
        if raw is None:
            await self.app(scope, receive, send)
            return
        try:
            key = parse_key(raw)
        except InvalidKey as exc:
            await problem_response(
                400, detail=str(exc), type=PROBLEM_TYPE_BASE + "idempotency-key"
            )(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client left before its body arrived: nothing to do, no one to answer
        incoming = _Incoming(key, fingerprint(scope, body))
        scope[_SCOPE_ENTRY] = incoming
        answer: list[Message] = []

        async def buffered(message: Message) -> None:
            answer.append(message)

        try:
            await self.app(scope, _replaying(body, receive), buffered)
        except BaseException:
            if incoming.request is not None:
                await incoming.request.abandon()
            raise
        held = incoming.request
        if held is not None and held.held:
            start = next(m for m in answer if m["type"] == "http.response.start")
            status = int(start["status"])
            if status >= 400:
                await held.abandon()
            else:
                try:
                    await held.finish(
                        status_code=status,
                        media_type=Headers(raw=start.get("headers", [])).get("content-type"),
                        body=b"".join(
                            m.get("body", b"") for m in answer if m["type"] == "http.response.body"
                        ),
                    )
                except Exception:
                    _log.exception("could not commit a request with its idempotency key")
                    await problem_response(
                        503,
                        detail="The change could not be confirmed. Retry with the same "
                        "Idempotency-Key: it answers the result if the change was saved, and "
                        "makes it if it was not.",
                        headers={"Retry-After": "1"},
                    )(scope, receive, send)
                    return
        for message in answer:
            await send(message)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` when the client disconnected before its end."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _stored_result(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoredResult)
    return Response(
        exc.body,
        status_code=exc.status_code,
        media_type=exc.media_type,
        headers={REPLAYED_HEADER: "true"},
    )


async def _key_reused(request: Request, exc: Exception) -> Response:
    return problem_response(
        422,
        title="Idempotency key reused",
        detail=f"This {HEADER} was used for a different request; use a new key.",
        type=PROBLEM_TYPE_BASE + "idempotency-key-reused",
    )


async def _key_in_use(request: Request, exc: Exception) -> Response:
    return problem_response(
        409,
        title="Idempotency key in use",
        detail=f"A request with this {HEADER} is still being processed; retry shortly.",
        type=PROBLEM_TYPE_BASE + "idempotency-key-in-use",
        headers={"Retry-After": "1"},
    )


_HANDLERS: Final[dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]]] = {
    StoredResult: _stored_result,
    IdempotencyKeyReused: _key_reused,
    IdempotencyKeyInUse: _key_in_use,
}

_PARAMETER: Final[dict[str, Any]] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Send a unique key (a UUID) and retry with the same key: the retry answers "
    "the first result instead of acting twice. Scoped to you; kept 24 hours; the same key "
    "with a different request answers 422.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": _KEY.pattern,
    },
}


def install_idempotency(app: FastAPI, *, keys: KeyProvider, ttl: timedelta) -> None:
    """Add the middleware (call before the body limit, so it runs inside it), the exception
    handlers, ``app.state.idempotency`` and the header in the OpenAPI of unsafe operations."""
    app.state.idempotency = IdempotencyConfig(keys=keys, ttl=ttl)
    app.add_middleware(IdempotencyMiddleware)
    for exc_type, handler in _HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                if method.upper() not in UNSAFE_METHODS:
                    continue
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == HEADER for p in parameters):
                    parameters.append(_PARAMETER)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
