"""deploy/bootstrap.py, the one-shot job of the compose file and the Kubernetes manifests,
against the real PostgreSQL and NATS: database, roles with their own passwords, migrations,
streams and consumers — and again, changing nothing."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import importlib.util
import os
import secrets
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import asyncpg
import nats
import pytest
from nats.js.errors import NotFoundError

from tirek.db.provision import drop_service_database
from tirek.messaging.naming import Naming
from tirek.messaging.streams import STREAMS, ConsumerSpec, register_consumer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "bootstrap.py"


@functools.cache
def load_bootstrap() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tirek_deploy_bootstrap", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first: its dataclasses look their module up while being defined.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def password_matches(stored: str, role: str, password: str) -> bool:
    """Whether PostgreSQL's stored verifier (SCRAM-SHA-256 or md5) is for ``password``."""
    if stored.startswith("md5"):
        return stored == "md5" + hashlib.md5((password + role).encode()).hexdigest()
    method, rest = stored.split("$", 1)
    assert method == "SCRAM-SHA-256", method
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = base64.b64decode(keys.split(":")[0])
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key)


def service_urls(pg_admin_dsn: str, database: str, owner_pw: str, app_pw: str) -> dict[str, str]:
    parts = urlsplit(pg_admin_dsn)
    where = f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}/{database}"
    return {
        "TIREK_INTAKE_DB_URL": f"postgresql+asyncpg://{database}_app:{app_pw}@{where}",
        "TIREK_INTAKE_DB_OWNER_URL": f"postgresql+asyncpg://{database}_owner:{owner_pw}@{where}",
    }


async def run_bootstrap(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(SCRIPT), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_bootstrap_provisions_a_service_and_provisioning_again_changes_nothing(
    pg_admin_dsn: str, nats_url: str, namespace: str
) -> None:
    ns = f"{namespace}boot"  # its own databases and streams, apart from other tests of this run
    database = f"{ns}_intake"
    owner_pw, app_pw = secrets.token_hex(12), secrets.token_hex(12)
    env = {
        "TIREK_BOOTSTRAP_ADMIN_DSN": pg_admin_dsn,
        **service_urls(pg_admin_dsn, database, owner_pw, app_pw),
    }
    args = ["--services", "intake", "--namespace", ns, "--nats-url", nats_url, "--timeout", "30"]
    naming = Naming(ns)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        for attempt in ("first", "second"):
            if attempt == "first":  # the command line, as compose and the Job run it
                done = await run_bootstrap(args, env)
                assert done.returncode == 0, f"first run failed:\n{done.stdout}\n{done.stderr}"
            else:
                # Database, roles and streams again, in-process (a second `migrate` is
                # Alembic's own idempotency and would only cost another interpreter start).
                bootstrap = load_bootstrap()
                db = bootstrap.read_service_database("intake", env, ns)
                await bootstrap.provision_database(pg_admin_dsn, db)
                await bootstrap.provision_streams(nats_url, naming, 1)

            parts = urlsplit(pg_admin_dsn)
            conn = await asyncpg.connect(parts._replace(path=f"/{database}").geturl())
            try:
                assert await conn.fetchval("SELECT count(*) FROM alembic_version") == 1
                roles = {
                    row["rolname"]: row
                    for row in await conn.fetch(
                        "SELECT rolname, rolpassword, rolsuper, rolbypassrls FROM pg_authid"
                        " WHERE rolname = ANY($1::text[])",
                        [f"{database}_owner", f"{database}_app"],
                    )
                }
            finally:
                await conn.close()
            owner, app = roles[f"{database}_owner"], roles[f"{database}_app"]
            assert password_matches(owner["rolpassword"], owner["rolname"], owner_pw)
            assert password_matches(app["rolpassword"], app["rolname"], app_pw)
            assert not app["rolsuper"] and not app["rolbypassrls"]

            info = await js.stream_info(naming.stream("INTAKE"))
            assert info.config.num_replicas == 1
            assert info.config.subjects == [naming.subject("tirek.intake.>")]
            consumer = await js.consumer_info(
                naming.stream("ADMIN"), naming.durable("intake-tenants")
            )
            assert consumer.config.max_deliver is not None
    finally:
        await drop_service_database(pg_admin_dsn, database)
        for stream in STREAMS:
            try:
                await js.delete_stream(naming.stream(stream))
            except NotFoundError:
                pass
        await nc.close()


async def test_bootstrap_refuses_a_placeholder_password_before_touching_anything(
    pg_admin_dsn: str, nats_url: str, namespace: str
) -> None:
    bootstrap = load_bootstrap()
    ns = f"{namespace}refuse"
    environ = service_urls(pg_admin_dsn, f"{ns}_intake", "change-me", secrets.token_hex(8))
    with pytest.raises(bootstrap.BootstrapError, match="placeholder") as refused:
        await bootstrap.run(
            admin_dsn=pg_admin_dsn,
            nats_url=nats_url,
            services=["intake"],
            replicas=1,
            namespace=ns,
            retry_for=5,
            environ=environ,
        )
    assert "change-me" not in str(refused.value), "passwords stay out of the job's output"
    conn = await asyncpg.connect(pg_admin_dsn)
    try:
        assert not await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", f"{ns}_intake"
        )
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("variable", "url", "complaint"),
    [
        (
            "TIREK_INTAKE_DB_URL",
            "postgresql+asyncpg://postgres:secret@db/tirek_intake",
            "must connect as tirek_intake_app",
        ),
        (
            "TIREK_INTAKE_DB_OWNER_URL",
            "postgresql+asyncpg://tirek_intake_owner:secret@db/tirek_referral",
            "to database tirek_intake",
        ),
        ("TIREK_INTAKE_DB_URL", "", "is not set"),
        (
            "TIREK_INTAKE_DB_URL",
            "postgresql+asyncpg://tirek_intake_app:CHANGE-ME@db/tirek_intake",
            "placeholder",
        ),
    ],
)
def test_a_service_url_with_other_roles_databases_or_no_password_is_refused(
    variable: str, url: str, complaint: str
) -> None:
    bootstrap = load_bootstrap()
    environ = {
        "TIREK_INTAKE_DB_URL": "postgresql+asyncpg://tirek_intake_app:a1@db/tirek_intake",
        "TIREK_INTAKE_DB_OWNER_URL": "postgresql+asyncpg://tirek_intake_owner:o1@db/tirek_intake",
        variable: url,
    }
    with pytest.raises(bootstrap.BootstrapError, match=complaint):
        bootstrap.read_service_database("intake", environ)


def test_the_job_provisions_every_consumer_the_kernel_registers() -> None:
    # The job imports the kernel's registry: a consumer registered there is provisioned with
    # no change to the job. (Guards against the job keeping a list of its own.)
    bootstrap = load_bootstrap()
    spec = register_consumer(ConsumerSpec("intake-tenants", "ADMIN", ("tirek.admin.tenant.>",)))
    assert spec in bootstrap.CONSUMERS
    assert set(bootstrap.SERVICES) == {"intake", "referral", "notification", "reporting", "admin"}
