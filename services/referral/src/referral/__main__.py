"""``python -m referral COMMAND``:

- ``serve`` — the HTTP API and event handlers; ``migrate`` — the database schema;
- ``keys rewrap`` — every NGO's data keys re-wrapped under the current master key
  (``keys status``: which master keys still wrap something);
- ``keys rotate --tenant ID [--settle S] [--batch N]`` — re-encrypt one NGO's data under a new
  data key in the background, then destroy the old key (resumable: run it again);
- ``keys seal-plaintext`` — encrypt rows written before encryption at rest (the service also
  does it at start).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from referral.settings import ReferralSettings, get_settings
from tirek.telemetry import configure_logging, install_global, instrument_asyncpg, setup_tracing
from tirek.web.server import serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m referral")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="the HTTP API and event handlers")
    commands.add_parser("migrate", help="migrate the database")
    keys = commands.add_parser("keys", help="data keys: rewrap, rotate, seal-plaintext, status")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_commands.add_parser("rewrap", help="re-wrap every data key under the current master key")
    key_commands.add_parser("status", help="how many keys each master key wraps")
    key_commands.add_parser("seal-plaintext", help="encrypt rows from before encryption")
    rotate = key_commands.add_parser("rotate", help="re-encrypt one NGO's data under a new key")
    rotate.add_argument("--tenant", type=uuid.UUID, required=True)
    rotate.add_argument("--settle", type=float, default=None)
    rotate.add_argument("--batch", type=int, default=200)
    return parser


def _run(settings: ReferralSettings, work: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    from tirek.crypto import Keyring, key_provider_for
    from tirek.db import create_engine, session_factory

    async def main() -> Any:
        engine = create_engine(settings.db_url, pool_size=2)
        try:
            sessions = session_factory(engine)
            return await work(sessions, Keyring(key_provider_for(settings), sessions))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def main() -> None:
    args = _parser().parse_args()
    settings = get_settings()
    configure_logging("referral", settings.log_level)
    if args.command == "migrate":
        from referral.migrate import upgrade

        upgrade(settings)
    elif args.command == "keys":
        from referral import privacy

        if args.keys_command == "rewrap":
            done = _run(settings, privacy.rewrap)
            print(f"{sum(done.values())} keys re-wrapped under the current master key")
            print(json.dumps(_run(settings, lambda s, k: privacy.status(s)), indent=2))
        elif args.keys_command == "status":
            print(json.dumps(_run(settings, lambda s, k: privacy.status(s)), indent=2))
        elif args.keys_command == "seal-plaintext":
            print(f"{_run(settings, privacy.seal_plaintext)} rows sealed")
        else:
            settle = args.settle if args.settle is not None else 2 * settings.key_refresh_seconds
            report = _run(
                settings,
                lambda s, k: privacy.rotate(s, k, args.tenant, settle=settle, batch=args.batch),
            )
            print(
                f"tenant {report.tenant}: data key version {report.version} "
                f"({'new' if report.created else 'resumed'}), {report.resealed} rows "
                f"re-encrypted, versions destroyed: {report.destroyed or 'none'}"
            )
    else:
        provider = setup_tracing("referral")
        install_global(provider)
        instrument_asyncpg(provider)
        from referral.main import create_app

        app = create_app(settings, tracer_provider=provider)
        serve(app, settings)


if __name__ == "__main__":
    main()
