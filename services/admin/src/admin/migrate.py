"""Run admin's Alembic migrations as the database owner.

The application role (the user of ``TIREK_DB_URL``) gets only the table rights the
migrations grant it; migrations run as the owner (``TIREK_DB_OWNER_URL``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from admin.settings import AdminSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(settings: AdminSettings) -> Config:
    if not settings.db_owner_url:
        raise SystemExit("TIREK_DB_OWNER_URL is not set: migrations run as the database owner")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.db_owner_url.replace("%", "%%"))
    config.set_main_option("app_role", make_url(settings.db_url).username or "")
    return config


def upgrade(settings: AdminSettings) -> None:
    command.upgrade(alembic_config(settings), "head")
