"""Notification's settings (``TIREK_*`` environment variables, see :class:`tirek.settings.ServiceSettings`)."""

from __future__ import annotations

from functools import lru_cache

from tirek.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    service_name: str = "notification"
    http_port: int = 8003
    oidc_audience: str = "tirek-notification"

    #: Where the web app shows a referral or case: links in messages point below it.
    public_url: str = "http://127.0.0.1:8003"

    #: SMTP for the email channel (``TIREK_SMTP_*``); no host: email deliveries fail as
    #: ``smtp_not_configured`` and the tenant admin sees them.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Tirek <notifications@tirek.local>"

    #: Telegram Bot API base URL (tests point it at a local server).
    telegram_api_url: str = "https://api.telegram.org"

    #: Seconds one send may take before it counts as failed (and is retried).
    delivery_timeout: float = 10.0
    #: Attempts before a delivery fails for good; backoff base·2^(n-1) seconds, capped.
    max_attempts: int = 8
    retry_base_seconds: float = 5.0
    retry_cap_seconds: float = 3600.0
    #: Deliveries sent at once.
    dispatch_concurrency: int = 20
    #: Seconds between dispatcher passes when nothing wakes it.
    dispatch_interval: float = 2.0
    #: Hour (UTC) of the daily digest.
    digest_hour: int = 6
    #: Seconds planning keeps what it reads for every event (``TIREK_RULE_CACHE_SECONDS``; 0:
    #: read it for every event): the rules of an event type, the tenant directory, and each
    #: tenant's setup (rules turned off, channels, active recipients). A change applies at
    #: once wherever it was committed (the database NOTIFYs every instance:
    #: ``notification.rules.listener``); this bounds how long one made while an instance was
    #: not listening can go unseen.
    rule_cache_seconds: float = 30.0


@lru_cache
def get_settings() -> NotificationSettings:
    return NotificationSettings()
