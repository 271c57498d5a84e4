"""``python -m intake COMMAND``:

- ``serve`` — the HTTP API and event handlers; ``migrate`` — the database schema;
- ``reindex [--all]`` — fill the blind indexes and partner hints of persons registered before
  they existed (``--all``: rebuild every one);
- ``keys rewrap`` — every NGO's data keys re-wrapped under the current master key (then the
  old one can be retired: ``keys status`` shows it wraps nothing);
- ``keys rotate --tenant ID [--settle S] [--batch N]`` — re-encrypt one NGO's data under a new
  data key in the background, then destroy the old key (resumable: run it again);
- ``keys seal-plaintext`` — encrypt rows written before encryption at rest (the service also
  does it at start);
- ``retention [--dry-run]`` — carry out every NGO's retention policy now (or list what it
  would erase).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from intake.settings import IntakeSettings, get_settings
from tirek.telemetry import configure_logging, install_global, instrument_asyncpg, setup_tracing
from tirek.web.server import serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m intake")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="the HTTP API and event handlers")
    commands.add_parser("migrate", help="migrate the database")
    reindex = commands.add_parser("reindex", help="fill persons' blind indexes")
    reindex.add_argument("--all", action="store_true", help="every person, not only new")
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
    retention = commands.add_parser("retention", help="carry out the retention policies")
    retention.add_argument("--dry-run", action="store_true", help="only list what is due")
    return parser


def _run(settings: IntakeSettings, work: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    """Run ``work(sessions, keyring)`` with a small engine of the service's own."""
    from tirek.crypto import Keyring, key_provider_for
    from tirek.db import create_engine, session_factory

    async def main() -> Any:
        engine = create_engine(settings.db_url, pool_size=2)
        try:
            sessions = session_factory(engine)
            keyring = Keyring(key_provider_for(settings), sessions)
            return await work(sessions, keyring)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def main() -> None:
    args = _parser().parse_args()
    settings = get_settings()
    configure_logging("intake", settings.log_level)
    if args.command == "migrate":
        from intake.migrate import upgrade

        upgrade(settings)
    elif args.command == "reindex":
        from intake.partners.reindex import reindex_hints
        from intake.persons.reindex import reindex

        done = _run(settings, lambda s, k: reindex(s, k, everyone=args.all))
        hinted = _run(settings, lambda s, k: reindex_hints(s, k, everyone=args.all))
        print(f"{done} persons indexed, {hinted} given partner hints")
    elif args.command == "keys":
        _keys(settings, args)
    elif args.command == "retention":
        from intake.privacy.retention import run_all

        now = datetime.now(UTC)
        done = _run(
            settings, lambda s, k: run_all(s, k, today=now.date(), now=now, dry_run=args.dry_run)
        )
        listing = {
            str(tenant): [
                {
                    "person_id": str(item.person_id),
                    "case_numbers": item.case_numbers,
                    "last_closed_on": item.last_closed_on.isoformat(),
                    "due_on": item.due_on.isoformat(),
                }
                for item in items
            ]
            for tenant, items in done.items()
        }
        print(json.dumps({"dry_run": args.dry_run, "erased": listing}, indent=2))
    else:
        _serve(settings)


def _keys(settings: IntakeSettings, args: argparse.Namespace) -> None:
    from intake.privacy import keys

    if args.keys_command == "rewrap":
        done = _run(settings, keys.rewrap)
        print(f"{sum(done.values())} keys re-wrapped under the current master key")
        print(json.dumps(_run(settings, lambda s, k: keys.status(s)), indent=2))
    elif args.keys_command == "status":
        print(json.dumps(_run(settings, lambda s, k: keys.status(s)), indent=2))
    elif args.keys_command == "seal-plaintext":
        print(f"{_run(settings, keys.seal_plaintext)} rows sealed")
    else:
        settle = args.settle if args.settle is not None else 2 * settings.key_refresh_seconds
        report = _run(
            settings,
            lambda s, k: keys.rotate(s, k, args.tenant, settle=settle, batch=args.batch),
        )
        print(
            f"tenant {report.tenant}: data key version {report.version} "
            f"({'new' if report.created else 'resumed'}), {report.resealed} rows re-encrypted, "
            f"versions destroyed: {report.destroyed or 'none'}"
        )


def _serve(settings: IntakeSettings) -> None:
    provider = setup_tracing("intake")
    install_global(provider)
    instrument_asyncpg(provider)
    from intake.main import create_app

    app = create_app(settings, tracer_provider=provider)
    serve(app, settings)


if __name__ == "__main__":
    main()
