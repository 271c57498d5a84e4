"""Reporting's settings (``TIREK_*`` environment variables, see :class:`tirek.settings.ServiceSettings`)."""

from __future__ import annotations

from functools import lru_cache

from tirek.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    http_port: int = 8004
    oidc_audience: str = "tirek-reporting"
    #: Counts from 1 to ``suppression_threshold - 1`` show as "<N" in cross-NGO views.
    suppression_threshold: int = 5


@lru_cache
def get_settings() -> ReportingSettings:
    return ReportingSettings()
