"""The whole platform as ``make run`` starts it, for fuzzing and hostile input over real HTTP.

Every service runs as its own ``python -m NAME serve`` process (``tirek.web.server``: the limits
under test are uvicorn's and the kernel's), on the run's NATS and PostgreSQL, with the demo
consortium seeded. Time limits are short so the tests that wait for them stay quick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tirek.demo.consortium import DEMO_PASSWORD
from tirek.demo.seed import publish_tenants, seed_intake
from tirek.demo.seed_referrals import publish_agreements, seed_referrals
from tirek.localstack.servers import free_port
from tirek.localstack.stack import Stack
from tirek.messaging.naming import Naming

SERVICES = ("intake", "referral", "notification", "reporting", "admin")
#: Seconds a client may take over its headers or its body in this suite (10 and 30 by default).
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0


@dataclass
class Platform:
    urls: dict[str, str]
    issuer: str
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str) -> str:
        if username not in self.tokens:
            response = httpx.post(
                f"{self.issuer}/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "tirek-web",
                    "username": username,
                    "password": DEMO_PASSWORD,
                    "scope": "openid",
                },
                timeout=30,
            )
            response.raise_for_status()
            self.tokens[username] = str(response.json()["access_token"])
        return self.tokens[username]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


@pytest.fixture(scope="package")
def platform(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, pg_admin_dsn: str, namespace: str
) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp("tirek-fuzz")
    home.chmod(0o755)
    env = {
        "TIREK_NATS_URL": nats_url,
        "TIREK_DATABASE_URL": pg_admin_dsn,
        "TIREK_NAMESPACE": f"{namespace}fz",
        "TIREK_SERVICES": ",".join(SERVICES),
        "TIREK_DEVIDP_PORT": str(free_port()),
        "TIREK_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "TIREK_HTTP_BODY_TIMEOUT": str(BODY_TIMEOUT),
        **{f"TIREK_{name.upper()}_PORT": str(free_port()) for name in SERVICES},
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        stack = Stack(Path(home))
        try:
            urls = stack.start()
            naming = Naming(env["TIREK_NAMESPACE"])
            asyncio.run(publish_tenants(nats_url, naming))
            asyncio.run(publish_agreements(nats_url, naming))
            issuer = f"{urls['issuer']}realms/tirek"
            asyncio.run(seed_intake(urls["intake"], issuer, cases_per_ngo=2))
            asyncio.run(seed_referrals(urls["referral"], urls["intake"], issuer))
            stack.run_command("notification", "seed-demo")
            yield Platform(urls=urls, issuer=issuer)
        finally:
            stack.stop()
