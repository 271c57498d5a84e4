"""Create a service's database with its two roles.

- ``<db>_owner`` owns the schema and runs migrations.
- ``<db>_app`` is what the service connects as: NOSUPERUSER NOBYPASSRLS, owns nothing, gets
  only the table rights its migrations grant, so row-level security always applies to it.

Used by ``make run``, the test fixtures and the deployment's one-shot migration job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,50}$")


@dataclass(frozen=True)
class DatabaseUrls:
    name: str
    owner_role: str
    app_role: str
    #: SQLAlchemy URLs (postgresql+asyncpg://...).
    owner_url: str
    app_url: str

    @property
    def owner_dsn(self) -> str:
        """libpq form of the owner URL (for asyncpg.connect)."""
        return self.owner_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    @property
    def app_dsn(self) -> str:
        return self.app_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _url(admin_dsn: str, *, user: str, password: str, database: str) -> str:
    parts = urlsplit(admin_dsn)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}:{parts.port or 5432}"
    return urlunsplit(("postgresql+asyncpg", netloc, f"/{database}", "", ""))


async def ensure_service_database(
    admin_dsn: str,
    database: str,
    *,
    password: str = "tirek-local",  # noqa: S107
) -> DatabaseUrls:
    """Create (idempotently) ``database`` with its owner and application roles.

    ``admin_dsn`` is a superuser libpq DSN. ``password`` is set on both roles; on the local
    servers (trust on loopback) it is not checked, elsewhere pass a real secret.
    """
    if not _IDENT.match(database):
        raise ValueError(f"not a safe database name: {database!r}")
    owner, app = f"{database}_owner", f"{database}_app"
    conn = await asyncpg.connect(admin_dsn)
    try:
        for role, attributes in (
            (owner, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"),
            (app, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"),
        ):
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            # Identifiers are validated above; passwords are quoted by the server-side function.
            literal = await conn.fetchval("SELECT quote_literal($1)", password)
            await conn.execute(f'{verb} ROLE "{role}" {attributes} PASSWORD {literal}')
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f'CREATE DATABASE "{database}" OWNER "{owner}" ENCODING \'UTF8\'')
    finally:
        await conn.close()
    # Inside the new database: the owner owns schema public; the app role may only use it.
    parts = urlsplit(admin_dsn)
    db_admin_dsn = urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))
    conn = await asyncpg.connect(db_admin_dsn)
    try:
        await conn.execute(f'ALTER SCHEMA public OWNER TO "{owner}"')
        await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        await conn.execute(f'GRANT USAGE ON SCHEMA public TO "{app}"')
        await conn.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
        await conn.execute(
            f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{owner}", "{app}"'
        )
    finally:
        await conn.close()
    return DatabaseUrls(
        name=database,
        owner_role=owner,
        app_role=app,
        owner_url=_url(admin_dsn, user=owner, password=password, database=database),
        app_url=_url(admin_dsn, user=app, password=password, database=database),
    )


async def drop_service_database(admin_dsn: str, database: str) -> None:
    """Drop a database and its two roles (test clean-up)."""
    if not _IDENT.match(database):
        raise ValueError(f"not a safe database name: {database!r}")
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for role in (f"{database}_app", f"{database}_owner"):
            await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()
