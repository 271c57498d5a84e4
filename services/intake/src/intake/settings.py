"""Intake's settings (``TIREK_*`` environment variables, see :class:`tirek.settings.ServiceSettings`)."""

from __future__ import annotations

from functools import lru_cache

from tirek.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = 8001
    oidc_audience: str = "tirek-intake"
    #: Largest page a list endpoint returns.
    max_page_size: int = 200


@lru_cache
def get_settings() -> IntakeSettings:
    return IntakeSettings()
