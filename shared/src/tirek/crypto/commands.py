"""The ``keys`` command line of a service that seals data (``python -m intake keys ...``).

``rewrap`` (every data key under the current master key, then ``status``), ``status`` (how many
keys each master key wraps), ``seal-plaintext`` (rows from before encryption at rest) and
``rotate --tenant ID`` (one NGO's data under a new data key): the service gives its
:class:`~tirek.crypto.rotation.SealedStore`, this module parses and runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tirek.crypto import key_provider_for
from tirek.crypto.keyring import Keyring
from tirek.crypto.rotation import SealedStore
from tirek.db import create_engine, session_factory
from tirek.settings import ServiceSettings

__all__ = ["add_key_commands", "run_key_command", "with_keyring"]

T = TypeVar("T")
Work = Callable[[async_sessionmaker[AsyncSession], Keyring], Awaitable[T]]


class _SubParsers(Protocol):
    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def add_key_commands(commands: _SubParsers) -> None:
    """Add ``keys`` and its four commands to a service's command line."""
    keys = commands.add_parser("keys", help="data keys: rewrap, rotate, seal-plaintext, status")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_commands.add_parser("rewrap", help="re-wrap every data key under the current master key")
    key_commands.add_parser("status", help="how many keys each master key wraps")
    key_commands.add_parser("seal-plaintext", help="encrypt rows from before encryption")
    rotate = key_commands.add_parser("rotate", help="re-encrypt one NGO's data under a new key")
    rotate.add_argument("--tenant", type=uuid.UUID, required=True)
    rotate.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds for running services to pick the new key up (default: 2x refresh)",
    )
    rotate.add_argument("--batch", type=int, default=200)


def with_keyring(settings: ServiceSettings, work: Work[T]) -> T:
    """Run ``work(sessions, keyring)`` on a small engine of the service's own."""

    async def main() -> T:
        engine = create_engine(settings.db_url, pool_size=4)
        try:
            sessions = session_factory(engine)
            return await work(sessions, Keyring(key_provider_for(settings), sessions))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def run_key_command(
    settings: ServiceSettings, store: SealedStore, args: argparse.Namespace
) -> None:
    """Carry out the ``keys`` command ``args`` names, printing what it did."""

    def status() -> None:
        print(json.dumps(with_keyring(settings, lambda s, k: store.status(s)), indent=2))

    if args.keys_command == "rewrap":
        done = with_keyring(settings, store.rewrap)
        print(f"{sum(done.values())} keys re-wrapped under the current master key")
        status()
    elif args.keys_command == "status":
        status()
    elif args.keys_command == "seal-plaintext":
        print(f"{with_keyring(settings, store.seal_plaintext)} rows sealed")
    else:
        settle = args.settle if args.settle is not None else 2 * settings.key_refresh_seconds
        report = with_keyring(
            settings,
            lambda s, k: store.rotate(s, k, args.tenant, settle=settle, batch=args.batch),
        )
        print(
            f"tenant {report.tenant}: data key version {report.version} "
            f"({'new' if report.created else 'resumed'}), {report.resealed} rows re-encrypted, "
            f"versions destroyed: {report.destroyed or 'none'}"
        )
