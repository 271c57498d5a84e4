"""Admin's settings (``TIREK_*`` environment variables, see :class:`tirek.settings.ServiceSettings`)."""

from __future__ import annotations

from functools import lru_cache

from tirek.settings import ServiceSettings


class AdminSettings(ServiceSettings):
    service_name: str = "admin"
    http_port: int = 8005
    oidc_audience: str = "tirek-admin"
    #: Largest page a list endpoint returns.
    max_page_size: int = 200
    #: The identity provider's admin API (Keycloak, or the development issuer): its base URL
    #: (``TIREK_KEYCLOAK_URL``, e.g. http://keycloak:8080/), realm and the confidential client
    #: whose service account may manage users. Unset URL: derived from ``oidc_issuer``.
    keycloak_url: str | None = None
    keycloak_realm: str = "tirek"
    keycloak_client_id: str = "tirek-admin"
    keycloak_client_secret: str | None = None

    def identity_base_url(self) -> str:
        """The identity provider's base URL (``…/`` before ``realms/<realm>``)."""
        if self.keycloak_url:
            return self.keycloak_url.rstrip("/") + "/"
        return self.oidc_issuer.split("/realms/", 1)[0].rstrip("/") + "/"


@lru_cache
def get_settings() -> AdminSettings:
    return AdminSettings()
