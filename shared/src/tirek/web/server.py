"""How every Tirek service is served: uvicorn with limits on what a hostile client can hold.

uvicorn bounds idle keep-alive connections, but not a client that sends its request line and
headers slowly (slowloris) or sends headers without end: httptools buffers them all. The
protocol here adds both bounds, per connection:

- the request line and headers must arrive within ``header_timeout`` seconds of the
  connection opening (on a kept-alive connection: of the next request's first byte; idle
  time between requests is uvicorn's keep-alive timeout): else the connection is closed;
- they may not be larger than ``max_header_bytes``: else ``431`` and the connection is closed.

Body size, body time and JSON depth are bounded in the ASGI middleware
(:mod:`tirek.web.middleware`), where a problem-details answer can be given. ``limit_concurrency``
answers ``503`` beyond that many open connections or requests in flight, so a flood of
connections cannot exhaust file descriptors.

::

    serve(create_app(settings), settings)
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any, Final

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tirek.settings import ServiceSettings

__all__ = ["GuardedHttpProtocol", "serve"]

_HEADERS_TOO_LARGE: Final = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/problem+json\r\n"
    b"connection: close\r\n"
    b"content-length: %d\r\n\r\n%s"
)
_HEADERS_TOO_LARGE_BODY: Final = (
    b'{"type":"about:blank","title":"Request Header Fields Too Large","status":431}'
)


class _HeadersTooLarge(Exception):
    """Stops the parser (from its callback) on headers over the limit."""


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit on request headers.

    Configured through class attributes (uvicorn instantiates the class itself); :func:`serve`
    sets them from the settings on a subclass.
    """

    header_timeout: float = 10.0
    max_header_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Between requests or inside a request line and headers (not inside a body).
        self._reading_headers = True
        self._header_bytes = 0
        self._header_deadline: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered 431; what still arrives is read and dropped until we close
        if self._reading_headers:
            self._header_bytes += len(data)
            if self._header_deadline is None:
                # A keep-alive connection's next request starts: its headers get a deadline too.
                self._arm_header_deadline()
        # uvicorn's data_received, with one more way for parsing to stop (headers too large).
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refused:  # raised from on_headers_complete below
                self._answer_headers_too_large()
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        # Headers still incomplete: bytes of a body that came with them were parsed off.
        if self._reading_headers and self._header_bytes > self.max_header_bytes:
            self._refused = True
            self._answer_headers_too_large()

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._disarm_header_deadline()
        # Headers that arrived in one piece: measured exactly, before any application runs.
        size = len(self.url) + sum(len(name) + len(value) for name, value in self.headers)
        if size > self.max_header_bytes:
            self._refused = True
            raise _HeadersTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # The request is read whole: whatever comes next is the next request's headers.
        self._reading_headers = True
        self._header_bytes = 0
        super().on_message_complete()

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if self._reading_headers and not busy and not self.transport.is_closing():
            # No answer: a client this slow is not reading one either (nginx does the same).
            self.transport.close()

    def _answer_headers_too_large(self) -> None:
        """Answer 431, then close gently: stop sending, drop what still arrives for a moment,
        then close. Closing at once with unread data makes the kernel reset the connection,
        and the client would never read the answer."""
        self._disarm_header_deadline()
        if self.transport.is_closing():
            return
        body = _HEADERS_TOO_LARGE_BODY
        self.transport.write(_HEADERS_TOO_LARGE % (len(body), body))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(self.header_timeout, self.transport.close)


def protocol_for(settings: ServiceSettings) -> type[GuardedHttpProtocol]:
    """:class:`GuardedHttpProtocol` with the limits of ``settings``."""
    return type(
        "ServiceHttpProtocol",
        (GuardedHttpProtocol,),
        {
            "header_timeout": settings.http_header_timeout,
            "max_header_bytes": settings.http_max_header_bytes,
        },
    )


#: The garbage collector's thresholds while serving (CPython's are 700, 10, 10). A request
#: allocates thousands of short-lived containers (pydantic, SQLAlchemy, the event envelope);
#: reference counting frees nearly all of them, and the collector's passes over the young
#: generation found little. With the import-time objects frozen as well (``gc.freeze``),
#: intake's CPU per registration fell from 2.93 to 2.69 ms in ``make bench``'s intake part.
GC_THRESHOLDS: Final = (20_000, 50, 100)


def tune_garbage_collector() -> None:
    """Move everything alive now (modules, schemas, mappers: the bulk of a service's objects)
    out of the collector's sight, and collect the young generation less often. Called once
    before serving; tests and tools keep CPython's defaults."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve(app: Any, settings: ServiceSettings) -> None:
    """Serve ``app`` on ``settings.http_host:http_port`` until stopped, with the limits of
    ``settings`` (``TIREK_HTTP_*``); logs go through the service's own logging config."""
    tune_garbage_collector()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        http=protocol_for(settings),
        log_config=None,
        access_log=False,
        timeout_keep_alive=settings.http_keep_alive_timeout,
        limit_concurrency=settings.http_limit_concurrency,
    )
