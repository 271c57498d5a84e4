"""The channels Tirek ships: in-app inbox, email (SMTP), webhook (HMAC-signed), Telegram."""

from __future__ import annotations

import hashlib
import hmac
import json
from email.message import EmailMessage

import aiosmtplib
import httpx
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.channels.base import OutgoingMessage, SendResult
from notification.inbox.models import InboxMessage
from tirek.db import UnitOfWork

SIGNATURE_HEADER = "X-Tirek-Signature"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC of the exact request body, as sent in :data:`SIGNATURE_HEADER`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class InboxChannel:
    """The in-app inbox: a row the user reads through ``GET /v1/inbox``."""

    kind = "inbox"

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def send(self, delivery: OutgoingMessage) -> SendResult:
        if delivery.user_id is None:
            return SendResult.refused("no_user")
        async with UnitOfWork(self._sessions, delivery.tenant_id) as session:
            await session.execute(
                insert(InboxMessage)
                .values(
                    tenant_id=delivery.tenant_id,
                    delivery_id=delivery.delivery_id,
                    user_id=delivery.user_id,
                    event_type=delivery.event_type,
                    subject=delivery.subject,
                    body=delivery.body,
                    link=delivery.link,
                )
                .on_conflict_do_nothing(index_elements=["delivery_id"])
            )
        return SendResult.delivered()


class EmailChannel:
    """Email over SMTP; host, port, STARTTLS and credentials come from the settings."""

    kind = "email"

    def __init__(
        self,
        *,
        host: str | None,
        port: int,
        starttls: bool,
        username: str | None,
        password: str | None,
        sender: str,
        timeout: float,
    ) -> None:
        self._host, self._port, self._starttls = host, port, starttls
        self._username, self._password = username, password
        self._sender, self._timeout = sender, timeout

    async def send(self, delivery: OutgoingMessage) -> SendResult:
        if not self._host:
            return SendResult.refused("smtp_not_configured")
        if not delivery.address:
            return SendResult.refused("no_address")
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = delivery.address
        message["Subject"] = delivery.subject
        message["Content-Language"] = delivery.language
        message["X-Tirek-Delivery"] = str(delivery.delivery_id)
        message.set_content(delivery.body)
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                start_tls=self._starttls,
                username=self._username,
                password=self._password,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            if all(refusal.code < 500 for refusal in error.recipients):
                return SendResult.retry("smtp_recipient_deferred")
            return SendResult.refused("smtp_recipient_refused")
        except aiosmtplib.SMTPResponseException as error:
            # 4xx is the server's "try again later"; 5xx will not pass by retrying.
            if error.code >= 500:
                return SendResult.refused(f"smtp_{error.code}")
            return SendResult.retry(f"smtp_{error.code}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            return SendResult.retry("smtp_unavailable")
        return SendResult.delivered()


class WebhookChannel:
    """POST a JSON body signed with HMAC-SHA256 (the tenant's secret) to the tenant's URL."""

    kind = "webhook"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, delivery: OutgoingMessage) -> SendResult:
        if not delivery.address or not delivery.secret:
            return SendResult.refused("webhook_not_configured")
        body = json.dumps(
            {
                "delivery_id": str(delivery.delivery_id),
                "event_id": str(delivery.event_id),
                "event_type": delivery.event_type,
                "tenant": str(delivery.tenant_id),
                "language": delivery.language,
                "subject": delivery.subject,
                "body": delivery.body,
                "link": delivery.link,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(delivery.secret, body),
            "X-Tirek-Delivery": str(delivery.delivery_id),
        }
        try:
            response = await self._client.post(delivery.address, content=body, headers=headers)
        except httpx.HTTPError:
            return SendResult.retry("webhook_unreachable")
        return _http_result("webhook", response.status_code)


class TelegramChannel:
    """Telegram Bot API ``sendMessage``; the base URL is configurable, the token per tenant."""

    kind = "telegram"

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    async def send(self, delivery: OutgoingMessage) -> SendResult:
        if not delivery.secret:
            return SendResult.refused("telegram_not_configured")
        if not delivery.address:
            return SendResult.refused("no_address")
        text = f"{delivery.subject}\n\n{delivery.body}"
        try:
            response = await self._client.post(
                f"{self._base_url}/bot{delivery.secret}/sendMessage",
                json={"chat_id": delivery.address, "text": text, "disable_web_page_preview": True},
            )
        except httpx.HTTPError:
            return SendResult.retry("telegram_unreachable")
        return _http_result("telegram", response.status_code)


def _http_result(kind: str, status: int) -> SendResult:
    if 200 <= status < 300:
        return SendResult.delivered()
    # 429 and 5xx pass; any other 4xx (bad token, unknown chat, gone) will not by retrying.
    if status == 429 or status >= 500 or status == 408:
        return SendResult.retry(f"{kind}_{status}")
    return SendResult.refused(f"{kind}_{status}")
