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
import json
from datetime import UTC, datetime

from intake.settings import IntakeSettings, get_settings
from tirek.crypto.commands import add_key_commands, run_key_command, with_keyring
from tirek.telemetry import configure_logging, install_global, instrument_asyncpg, setup_tracing
from tirek.web.server import serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m intake")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="the HTTP API and event handlers")
    commands.add_parser("migrate", help="migrate the database")
    reindex = commands.add_parser("reindex", help="fill persons' blind indexes")
    reindex.add_argument("--all", action="store_true", help="every person, not only new")
    add_key_commands(commands)
    retention = commands.add_parser("retention", help="carry out the retention policies")
    retention.add_argument("--dry-run", action="store_true", help="only list what is due")
    return parser


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

        done = with_keyring(settings, lambda s, k: reindex(s, k, everyone=args.all))
        hinted = with_keyring(settings, lambda s, k: reindex_hints(s, k, everyone=args.all))
        print(f"{done} persons indexed, {hinted} given partner hints")
    elif args.command == "keys":
        from intake.privacy import keys

        run_key_command(settings, keys.STORE, args)
    elif args.command == "retention":
        from intake.privacy.retention import run_all

        now = datetime.now(UTC)
        due = with_keyring(
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
            for tenant, items in due.items()
        }
        print(json.dumps({"dry_run": args.dry_run, "erased": listing}, indent=2))
    else:
        _serve(settings)


def _serve(settings: IntakeSettings) -> None:
    provider = setup_tracing("intake")
    install_global(provider)
    instrument_asyncpg(provider)
    from intake.main import create_app

    app = create_app(settings, tracer_provider=provider)
    serve(app, settings)


if __name__ == "__main__":
    main()
