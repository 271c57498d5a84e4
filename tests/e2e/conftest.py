"""The platform as ``make run`` starts it (same Stack, same seed), on the run's servers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tirek.demo.seed import publish_tenants, seed_intake
from tirek.demo.seed_referrals import publish_agreements
from tirek.localstack.servers import free_port
from tirek.localstack.stack import Stack
from tirek.messaging.naming import Naming

#: The services the end-to-end suite drives.
SERVICES = ("intake", "referral", "notification", "reporting")


@pytest.fixture(scope="package")
def platform(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, pg_admin_dsn: str, namespace: str
) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("tirek-home")
    home.chmod(0o755)
    env = {
        "TIREK_NATS_URL": nats_url,
        "TIREK_DATABASE_URL": pg_admin_dsn,
        "TIREK_NAMESPACE": f"{namespace}e2e",
        "TIREK_SERVICES": ",".join(SERVICES),
        "TIREK_DEVIDP_PORT": str(free_port()),
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
            urls["seeded"] = str(asyncio.run(seed_intake(urls["intake"], issuer, cases_per_ngo=3)))
            urls["namespace"] = env["TIREK_NAMESPACE"]
            urls["home"] = str(home)
            yield urls
        finally:
            stack.stop()
