"""Settings shared by every service, read from ``TIREK_*`` environment variables.

Each service subclasses :class:`ServiceSettings` and exposes a cached ``get_settings()`` that
tests override by constructing the settings object directly and passing it to ``create_app``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def nats_servers(urls: str) -> list[str]:
    """Server URLs from one URL or a comma-separated list of them."""
    return [url.strip() for url in urls.split(",") if url.strip()]


class ServiceSettings(BaseSettings):
    """What every Tirek service needs to know about its surroundings."""

    model_config = SettingsConfigDict(env_prefix="TIREK_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    service_name: str = "tirek"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    #: Limits on what one client can send or hold (see ``tirek.web.server`` and
    #: ``tirek.web.middleware``): body bytes (413), seconds to send the whole body (408), JSON
    #: nesting depth (422), header bytes (431), seconds to send the headers (connection
    #: closed), idle keep-alive seconds, and open connections or requests in flight (503).
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    http_body_timeout: float = Field(default=30.0, gt=0)
    http_max_json_depth: int = Field(default=32, ge=1)
    http_max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    http_header_timeout: float = Field(default=10.0, gt=0)
    http_keep_alive_timeout: int = Field(default=5, ge=1)
    http_limit_concurrency: int = Field(default=1000, ge=1)

    #: One NATS URL, or several separated by commas (the members of a cluster to try first;
    #: the client learns the others from the cluster).
    nats_url: str = "nats://127.0.0.1:4222"
    #: The service's own NATS user in deployments (``deploy/nats/users.conf``: it may publish
    #: only its own subjects and read only what it consumes), and its password. Unset: no
    #: authentication (``make run``, tests).
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    #: Prefixes every stream, consumer and subject; tests use a unique one per run so that
    #: a shared NATS server never mixes two runs. Empty in deployments.
    namespace: str = ""

    #: The service's own database, connected as its application role (no BYPASSRLS,
    #: owns nothing): ``TIREK_DB_URL``, SQLAlchemy URL with the asyncpg driver. (Not to be
    #: confused with ``TIREK_DATABASE_URL``, the server-level superuser DSN that ``make run``
    #: and ``make test`` use instead of starting their own PostgreSQL.)
    db_url: str = "postgresql+asyncpg://tirek_app@127.0.0.1:5432/tirek"
    #: The same database as its owner role (``TIREK_DB_OWNER_URL``), for migrations only.
    db_owner_url: str | None = None
    #: Connections to it the service opens at most, and keeps (:func:`tirek.db.create_engine`).
    #: At least 4: a process holds up to two for good (the outbox relay's LISTEN, a cache's),
    #: and with fewer its requests and consumers waited for each other until readiness failed.
    db_pool_size: int = Field(20, ge=4)

    #: OIDC issuer, e.g. http://127.0.0.1:8080/realms/tirek (development issuer) or Keycloak.
    oidc_issuer: str = "http://127.0.0.1:8080/realms/tirek"
    #: The audience this service requires in ``aud``.
    oidc_audience: str = "tirek"
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "PS256"])
    #: Minimum seconds between two JWKS refetches caused by an unknown ``kid``.
    jwks_refetch_interval: float = 30.0

    #: Master key (base64, 32 bytes) that wraps every tenant's data keys (tirek.crypto); when
    #: unset, the local key file below is used (created on first use). Containers pass the key.
    master_key: str | None = None
    master_key_file: str = ".tirek/keys/master.key"
    #: Further master keys that unwrap but never wrap (base64, comma-separated): the old one
    #: while ``keys rewrap`` moves every data key to a new one, or the new one before a switch.
    master_keys_accepted: str = ""
    #: Seconds a service keeps a tenant's unwrapped keys before looking for a rotation's new one.
    key_refresh_seconds: float = 60.0

    #: Seconds an ``Idempotency-Key`` answers with its first result (tirek.web.idempotency).
    idempotency_key_ttl: float = Field(24 * 3600, gt=0)

    #: Log level of the JSON logs.
    log_level: str = "INFO"

    @property
    def nats_servers(self) -> list[str]:
        """``nats_url`` as a list of server URLs."""
        return nats_servers(self.nats_url)

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION
