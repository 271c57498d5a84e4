"""RFC 9457 problem details: every 4xx and 5xx answer of a Tirek service.

Raise a :class:`Problem` (or one of its subclasses) anywhere in a request; the handlers that
:func:`install_problem_handlers` registers turn it, Starlette's ``HTTPException`` and FastAPI's
validation errors into ``application/problem+json`` bodies::

    raise NotFound("No such case.", slug="case-not-found")
    raise Conflict("The referral was already accepted.", slug="referral-state", state="accepted")

Problem bodies never echo submitted values: a rejected field may hold a victim's name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar, Final

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tirek.crypto.errors import DecryptionError, KeyUnavailable, UnstorableText
from tirek.db.engine import database_unavailable

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "PROBLEM_OPENAPI_RESPONSE",
    "PROBLEM_TYPE_BASE",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "Problem",
    "ServiceUnavailable",
    "Unauthorized",
    "Unprocessable",
    "install_problem_handlers",
    "problem_response",
    "sanitized_validation_errors",
]

_log = logging.getLogger("tirek.web.problems")

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
#: Base of Tirek's problem type URIs: ``PROBLEM_TYPE_BASE + slug``.
PROBLEM_TYPE_BASE: Final = "https://tirek.example/problems/"

_RESERVED_MEMBERS: Final = frozenset({"type", "title", "status", "detail", "instance"})


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemResponse(JSONResponse):
    """A JSON response with the ``application/problem+json`` media type."""

    media_type = PROBLEM_CONTENT_TYPE


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type: str = "about:blank",
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Build an RFC 9457 ``application/problem+json`` response.

    ``title`` defaults to the status phrase; ``extra`` adds extension members. The current
    trace id, when there is one, is added as ``trace_id`` so a user can quote it to support.
    """
    body: dict[str, Any] = {"type": type, "title": title or _phrase(status), "status": status}
    if detail:
        body["detail"] = detail
    if extra:
        body.update({k: v for k, v in extra.items() if k not in _RESERVED_MEMBERS})
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        body.setdefault("trace_id", format(span_context.trace_id, "032x"))
    return ProblemResponse(body, status_code=status, headers=dict(headers) if headers else None)


class Problem(Exception):
    """An error answered as an RFC 9457 problem.

    ``type`` is a URI (``about:blank`` by default); pass ``slug`` for Tirek's own problem types
    (``https://tirek.example/problems/<slug>``). Keyword arguments beyond the named ones become
    extension members of the body; they must not hold personal data.
    """

    status: ClassVar[int] = 500
    default_title: ClassVar[str | None] = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        title: str | None = None,
        type: str | None = None,
        slug: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title or "")
        if type is not None and slug is not None:
            raise ValueError("give either type or slug, not both")
        reserved = _RESERVED_MEMBERS & extra.keys()
        if reserved:
            raise ValueError(f"extension members may not be named {sorted(reserved)}")
        self.status_code: int = status if status is not None else self.status
        self.title: str = title or self.default_title or _phrase(self.status_code)
        self.detail = detail
        self.type: str = PROBLEM_TYPE_BASE + slug if slug is not None else type or "about:blank"
        self.headers: dict[str, str] = dict(headers) if headers else {}
        self.extra: dict[str, Any] = extra

    def to_response(self) -> Response:
        """This problem as an ``application/problem+json`` response."""
        return problem_response(
            self.status_code,
            title=self.title,
            detail=self.detail,
            type=self.type,
            extra=self.extra,
            headers=self.headers,
        )


class BadRequest(Problem):
    """400: the request cannot be understood as sent."""

    status = 400


class Unauthorized(Problem):
    """401: no valid bearer token. Carries ``WWW-Authenticate: Bearer`` unless told otherwise."""

    status = 401

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            detail, headers=headers or {"WWW-Authenticate": 'Bearer realm="tirek"'}, **kwargs
        )


class Forbidden(Problem):
    """403: the caller is known but may not do this."""

    status = 403


class NotFound(Problem):
    """404: no such resource (or none the caller's tenant may see)."""

    status = 404


class Conflict(Problem):
    """409: the request conflicts with the resource's current state."""

    status = 409


class Unprocessable(Problem):
    """422: well-formed, but breaks a rule of the domain."""

    status = 422


class ServiceUnavailable(Problem):
    """503: a dependency (database, broker) is not reachable right now."""

    status = 503


#: OpenAPI description of problem answers, documented on every route as ``4XX`` and ``5XX``
#: (it replaces FastAPI's default 422 schema, which is not what Tirek answers).
PROBLEM_OPENAPI_RESPONSE: Final[dict[str, Any]] = {
    "description": "Problem details (RFC 9457)",
    "content": {
        PROBLEM_CONTENT_TYPE: {
            "schema": {
                "type": "object",
                "required": ["type", "title", "status"],
                "properties": {
                    "type": {"type": "string", "format": "uri-reference"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "trace_id": {"type": "string"},
                    "errors": {
                        "type": "array",
                        "description": "Invalid fields (422 only); never their values.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "loc": {
                                    "type": "array",
                                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                                },
                                "msg": {"type": "string"},
                                "type": {"type": "string"},
                            },
                        },
                    },
                },
                "additionalProperties": True,
            }
        }
    },
}

# ---------------------------------------------------------------------------------------------
# Handlers


def sanitized_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors reduced to ``loc``, ``msg`` and ``type``.

    Pydantic errors carry ``input`` (the submitted value) and ``ctx`` (which may quote it);
    both are dropped, since a rejected value may be a name or a document number.
    """
    cleaned: list[dict[str, Any]] = []
    for error in errors:
        if not isinstance(error, Mapping):
            continue
        loc = error.get("loc", ())
        cleaned.append(
            {
                "loc": [part if isinstance(part, int | str) else str(part) for part in loc],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    return cleaned


def _is_json_content_type(value: str | None) -> bool:
    if not value:
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.to_response()


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code < 400 or exc.status_code in (204, 304):
        # Not an error: no problem body (and 204/304 may not have one at all).
        return Response(status_code=exc.status_code, headers=headers)
    phrase = _phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    return problem_response(exc.status_code, title=phrase, detail=detail, headers=headers)


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = sanitized_validation_errors(exc.errors())
    if any(error["type"] == "json_invalid" for error in errors):
        detail = "The request body is not valid JSON."
        slug = "malformed-json"
    elif any(
        error["loc"] == ["body"] and error["type"] != "missing" for error in errors
    ) and not _is_json_content_type(request.headers.get("content-type")):
        # FastAPI validates a non-JSON body as raw bytes against the model: the media type is
        # what is wrong, not the fields. No body at all is a missing field (422).
        return problem_response(
            415,
            detail="The request body must be JSON sent with Content-Type: application/json.",
            type=PROBLEM_TYPE_BASE + "unsupported-content-type",
            headers={"Accept-Post": "application/json"},
        )
    else:
        detail = "The request has invalid fields; see errors."
        slug = "validation"
    return problem_response(
        422,
        title="Unprocessable Content",
        detail=detail,
        type=PROBLEM_TYPE_BASE + slug,
        extra={"errors": errors},
    )


#: SQLSTATEs of text PostgreSQL cannot store (a NUL character, in text or in JSON).
_UNSTORABLE_TEXT: Final = frozenset({"22021", "22P05"})


async def _database_error_handler(request: Request, exc: Exception) -> Response:
    """Input text with a NUL character fails only in the database: answer 422, not 500; an
    unreachable database (restart, failover) answers 503 with ``Retry-After``.

    The use case's unit of work has rolled back by then, so nothing was written. Any other
    database error goes on to the 500 answer.
    """
    if database_unavailable(exc):
        # A restart or failover of the database: nothing was written; the client may retry.
        return problem_response(
            503,
            detail="The database is not reachable right now; nothing was changed. Retry shortly "
            "(with the same Idempotency-Key).",
            headers={"Retry-After": "2"},
        )
    unstorable = isinstance(exc, UnstorableText) or (
        isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _UNSTORABLE_TEXT
    )
    if unstorable:
        return Unprocessable(
            "Text may not contain NUL (\\u0000) characters.", title="Text cannot be stored"
        ).to_response()
    raise exc


async def _crypto_handler(request: Request, exc: Exception) -> Response:
    """A stored value that does not decrypt, or a key that cannot be had: a problem naming
    what failed (ids only, logged for the operator), never a half-filled answer."""
    if isinstance(exc, KeyUnavailable):
        _log.error("a key is unavailable: %s", exc)
        return ServiceUnavailable(
            "A key needed to read this record is not available to the service.",
            title="Key unavailable",
            slug="key-unavailable",
        ).to_response()
    _log.error("a stored value does not decrypt: %s", exc)
    return Problem(
        "A stored value of this record does not decrypt where it is stored; it was moved or "
        "tampered with. Nothing was answered from it.",
        status=500,
        title="Record does not decrypt",
        slug="record-does-not-decrypt",
    ).to_response()


def install_problem_handlers(app: FastAPI) -> None:
    """Answer :class:`Problem`, ``HTTPException`` and validation errors as problem details.

    Unknown routes (404) and wrong methods (405, with ``Allow``) arrive here as
    ``HTTPException``; a 401 keeps its ``WWW-Authenticate`` header. Unhandled exceptions are
    turned into a 500 problem by the request middleware of :func:`create_service_app`.
    """
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(DBAPIError, _database_error_handler)
    app.add_exception_handler(UnstorableText, _database_error_handler)
    # A refused connection reaches the view as the driver's own error, not as a DBAPIError.
    app.add_exception_handler(OSError, _database_error_handler)
    app.add_exception_handler(asyncpg.PostgresError, _database_error_handler)
    app.add_exception_handler(DecryptionError, _crypto_handler)
    app.add_exception_handler(KeyUnavailable, _crypto_handler)
