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
    #: Seconds between two runs of the retention job (what is due comes from the database).
    retention_interval: float = 3600.0
    #: Encrypt, at start, rows written before encryption at rest (intake.privacy.keys).
    seal_plaintext_at_start: bool = True


@lru_cache
def get_settings() -> IntakeSettings:
    return IntakeSettings()
