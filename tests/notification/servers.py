"""Far ends the tests run for real: an SMTP server (aiosmtpd) and an HTTP server standing in for
a tenant's webhook receiver and for the Telegram Bot API."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    to: list[str]
    message: Message

    @property
    def subject(self) -> str:
        from email.header import decode_header, make_header

        return str(make_header(decode_header(self.message["Subject"])))

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode(self.message.get_content_charset() or "utf-8")


@dataclass
class MailHandler:
    """Keeps what it receives; refuses (451) the next ``failures[address]`` mails to an address."""

    received: list[ReceivedMail] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    refused: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for address in envelope.rcpt_tos:
            if self.failures.get(address, 0) > 0:
                self.failures[address] -= 1
                self.refused += 1
                return "451 4.3.0 Temporary failure, try again later"
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        self.received.append(ReceivedMail(list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 OK"

    def to(self, address: str) -> list[ReceivedMail]:
        return [mail for mail in self.received if address in mail.to]


class SmtpServer:
    def __init__(self) -> None:
        self.handler = MailHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class HttpRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpServer:
    """Records every POST; answers ``status_for(path)`` (200 by default), after ``delay_for``."""

    def __init__(self) -> None:
        self.requests: list[HttpRequest] = []
        self.statuses: dict[str, list[int]] = {}
        self.delays: dict[str, float] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                time.sleep(outer.delays.get(self.path, 0))
                outer.requests.append(HttpRequest(self.path, dict(self.headers.items()), body))
                queued = outer.statuses.get(self.path)
                status = queued.pop(0) if queued else 200
                answer = json.dumps({"ok": status == 200, "result": {}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                try:
                    self.wfile.write(answer)
                except BrokenPipeError:
                    pass  # the client gave up waiting (the slow-channel test): expected

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def to(self, path: str) -> list[HttpRequest]:
        return [request for request in self.requests if request.path == path]


def signature_is_valid(secret: str, request: HttpRequest) -> bool:
    """What a tenant's receiver does: recompute the HMAC of the raw body and compare."""
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers.get("X-Tirek-Signature", ""))
