"""Referral's settings (``TIREK_*`` environment variables, see :class:`tirek.settings.ServiceSettings`)."""

from __future__ import annotations

from functools import lru_cache

from tirek.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    service_name: str = "referral"
    http_port: int = 8002
    oidc_audience: str = "tirek-referral"
    #: Largest page a list endpoint returns.
    max_page_size: int = 200
    #: Seconds between two scans for overdue referrals and returns (``TIREK_DEADLINE_SCAN_INTERVAL``).
    deadline_scan_interval: float = 60.0
    #: Hours a sent referral may stay unanswered, normal and urgent; also the repeat period.
    answer_within_hours: int = 72
    urgent_answer_within_hours: int = 24
    #: Hours after a return's planned date by which its arrival must be confirmed.
    arrival_within_hours: int = 48


@lru_cache
def get_settings() -> ReferralSettings:
    return ReferralSettings()
