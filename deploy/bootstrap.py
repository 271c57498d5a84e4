"""One-shot deployment job: databases and roles, migrations, JetStream streams and consumers.

Run by the compose file (service ``bootstrap``) and by the Kubernetes Job (``deploy/k8s``)
before any service starts, from the same image as the services::

    python deploy/bootstrap.py --replicas 3

Idempotent: run it again after every upgrade. For each service NAME it reads the two URLs the
service itself is given (SQLAlchemy form, ``postgresql+asyncpg://user:password@host/db``):

- ``TIREK_<NAME>_DB_URL``: the application role (``tirek_NAME_app``), what the service uses;
- ``TIREK_<NAME>_DB_OWNER_URL``: the owner role (``tirek_NAME_owner``), for migrations;

creates database ``tirek_NAME`` with both roles and their passwords taken from those URLs
(:func:`tirek.db.provision.ensure_service_database`), runs ``python -m NAME migrate`` as the
owner, and finally creates or updates every stream and durable consumer
(:func:`tirek.messaging.streams.ensure_streams`), connected as the NATS user
``TIREK_NATS_USER`` (``ops`` in deployments, with ``TIREK_NATS_PASSWORD``). The one URL of
its own is ``TIREK_BOOTSTRAP_ADMIN_DSN``: a role allowed to create databases and roles
(libpq form).

PostgreSQL and NATS may still be starting (compose, a fresh cluster forming its JetStream
meta group): every step is retried until ``--timeout`` seconds have passed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import asyncpg
import nats
from sqlalchemy.engine import URL, make_url

from tirek.db.provision import ensure_service_database
from tirek.messaging.naming import Naming
from tirek.messaging.permissions import inbox_prefix
from tirek.messaging.streams import CONSUMERS, STREAMS, ensure_streams

#: Every deployable service; the compose file and the manifests configure all of them.
SERVICES: tuple[str, ...] = ("intake", "referral", "notification", "reporting", "admin")
#: A password that was never replaced (deploy/k8s ships these as placeholders).
PLACEHOLDER = "change-me"

T = TypeVar("T")


class BootstrapError(RuntimeError):
    """The deployment is misconfigured or a step failed for good."""


@dataclass(frozen=True)
class ServiceDatabase:
    """What one service's database should look like, read from the service's own URLs."""

    service: str
    database: str
    app_url: str
    owner_url: str

    @property
    def owner_password(self) -> str:
        return make_url(self.owner_url).password or ""

    @property
    def app_password(self) -> str:
        return make_url(self.app_url).password or ""


def database_name(service: str, namespace: str = "") -> str:
    """``tirek_intake``; under a namespace (a test run) ``<namespace>_intake``."""
    return f"{namespace}_{service}" if namespace else f"tirek_{service}"


def read_service_database(
    service: str, environ: dict[str, str], namespace: str = ""
) -> ServiceDatabase:
    """The service's database settings from ``TIREK_<NAME>_DB_URL`` / ``_DB_OWNER_URL``.

    Refuses URLs that name other roles or another database than the ones provisioning creates
    (the service would then connect as something nobody granted rights to), and passwords
    still set to the shipped placeholder.
    """
    database = database_name(service, namespace)
    urls: dict[str, str] = {}
    for kind, role in (("DB_URL", f"{database}_app"), ("DB_OWNER_URL", f"{database}_owner")):
        variable = f"TIREK_{service.upper()}_{kind}"
        raw = environ.get(variable)
        if not raw:
            raise BootstrapError(f"{variable} is not set")
        try:
            url: URL = make_url(raw)
        except Exception as exc:  # SQLAlchemy raises ArgumentError; the value may hold a secret
            raise BootstrapError(f"{variable} is not a database URL") from exc
        if url.username != role or url.database != database:
            raise BootstrapError(
                f"{variable} must connect as {role} to database {database} "
                f"(got {url.username} to {url.database})"
            )
        if not url.password or PLACEHOLDER in url.password.lower():
            raise BootstrapError(f"{variable}: set a real password (it is empty or a placeholder)")
        urls[kind] = raw
    return ServiceDatabase(service, database, urls["DB_URL"], urls["DB_OWNER_URL"])


async def retry(
    what: str, step: Callable[[], Awaitable[T]], *, deadline: float, pause: float = 2.0
) -> T:
    """Run ``step`` until it succeeds or ``deadline`` (monotonic) passes."""
    while True:
        try:
            return await step()
        except BootstrapError:
            raise
        except Exception as exc:
            if time.monotonic() + pause > deadline:
                raise BootstrapError(f"{what}: still failing at the deadline: {exc!r}") from exc
            print(f"{what}: not yet ({type(exc).__name__}), retrying", flush=True)
            await asyncio.sleep(pause)


async def provision_database(admin_dsn: str, db: ServiceDatabase) -> None:
    """Create the database and its roles; give each role the password from its URL."""
    await ensure_service_database(admin_dsn, db.database, password=db.owner_password)
    # ensure_service_database sets one password on both roles; the app role gets its own.
    conn = await asyncpg.connect(admin_dsn)
    try:
        literal = await conn.fetchval("SELECT quote_literal($1)", db.app_password)
        # The role name comes from database_name() (validated by ensure_service_database).
        await conn.execute(f'ALTER ROLE "{db.database}_app" PASSWORD {literal}')
    finally:
        await conn.close()


def nats_credentials(environ: dict[str, str]) -> dict[str, str]:
    """``nats.connect`` arguments for the ``ops`` user (``TIREK_NATS_USER`` /
    ``TIREK_NATS_PASSWORD``; deploy/nats/users.conf), empty when no user is set."""
    user = environ.get("TIREK_NATS_USER")
    if not user:
        return {}
    return {
        "user": user,
        "password": environ.get("TIREK_NATS_PASSWORD", ""),
        "inbox_prefix": inbox_prefix(user),
    }


def migrate(db: ServiceDatabase, namespace: str) -> None:
    """``python -m NAME migrate`` as the owner role, with the service's own settings."""
    env = {
        **os.environ,
        "TIREK_DB_URL": db.app_url,
        "TIREK_DB_OWNER_URL": db.owner_url,
        "TIREK_NAMESPACE": namespace,
    }
    done = subprocess.run(
        [sys.executable, "-m", db.service, "migrate"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BootstrapError(
            f"{db.service}: migrations failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )


async def provision_streams(
    nats_url: str, naming: Naming, replicas: int, credentials: dict[str, str] | None = None
) -> None:
    """Streams and consumers, as the ``ops`` NATS user when credentials are given."""
    nc = await nats.connect(
        nats_url, connect_timeout=5, max_reconnect_attempts=1, **(credentials or {})
    )
    try:
        await ensure_streams(nc.jetstream(timeout=10), naming, replicas=replicas)
    finally:
        await nc.close()


async def run(
    *,
    admin_dsn: str,
    nats_url: str,
    services: Sequence[str],
    replicas: int,
    namespace: str,
    retry_for: float,
    environ: dict[str, str],
) -> None:
    """Every step of the job, in order; raises :class:`BootstrapError` on the first failure."""
    # Read all configuration first: a typo in the last service fails before anything changes.
    databases = [read_service_database(s, environ, namespace) for s in services]
    deadline = time.monotonic() + retry_for
    for db in databases:
        await retry(
            f"database {db.database}", partial(provision_database, admin_dsn, db), deadline=deadline
        )
        print(f"database {db.database}: ready", flush=True)
        migrate(db, namespace)
        print(f"{db.service}: migrated", flush=True)
    naming = Naming(namespace)
    await retry(
        "streams",
        partial(provision_streams, nats_url, naming, replicas, nats_credentials(environ)),
        deadline=deadline,
    )
    print(
        f"streams ({replicas} replica(s)): {', '.join(naming.stream(s) for s in STREAMS)}; "
        f"consumers: {len(CONSUMERS)}",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python deploy/bootstrap.py", description=__doc__)
    env = os.environ
    parser.add_argument("--admin-dsn", default=env.get("TIREK_BOOTSTRAP_ADMIN_DSN", ""))
    parser.add_argument("--nats-url", default=env.get("TIREK_NATS_URL", "nats://nats:4222"))
    parser.add_argument(
        "--services",
        default=env.get("TIREK_BOOTSTRAP_SERVICES", ",".join(SERVICES)),
        help="comma-separated services to provision (default: all)",
    )
    parser.add_argument("--replicas", type=int, default=int(env.get("TIREK_STREAM_REPLICAS", "1")))
    parser.add_argument("--namespace", default=env.get("TIREK_NAMESPACE", ""))
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds for all retries")
    args = parser.parse_args(argv)
    services = [s.strip() for s in args.services.split(",") if s.strip()]
    unknown = sorted(set(services) - set(SERVICES))
    try:
        if unknown:
            raise BootstrapError(f"unknown services: {', '.join(unknown)}")
        if not args.admin_dsn:
            raise BootstrapError("TIREK_BOOTSTRAP_ADMIN_DSN (or --admin-dsn) is not set")
        asyncio.run(
            run(
                admin_dsn=args.admin_dsn.replace("postgresql+asyncpg://", "postgresql://", 1),
                nats_url=args.nats_url,
                services=services,
                replicas=args.replicas,
                namespace=args.namespace,
                retry_for=args.timeout,
                environ=dict(env),
            )
        )
    except BootstrapError as exc:
        print(f"bootstrap failed: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
