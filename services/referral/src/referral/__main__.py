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

from referral.settings import get_settings
from tirek.crypto.commands import add_key_commands, run_key_command
from tirek.telemetry import configure_logging, install_global, instrument_asyncpg, setup_tracing
from tirek.web.server import serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m referral")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="the HTTP API and event handlers")
    commands.add_parser("migrate", help="migrate the database")
    add_key_commands(commands)
    return parser


def main() -> None:
    args = _parser().parse_args()
    settings = get_settings()
    configure_logging("referral", settings.log_level)
    if args.command == "migrate":
        from referral.migrate import upgrade

        upgrade(settings)
    elif args.command == "keys":
        from referral import privacy

        run_key_command(settings, privacy.STORE, args)
    else:
        provider = setup_tracing("referral")
        install_global(provider)
        instrument_asyncpg(provider)
        from referral.main import create_app

        app = create_app(settings, tracer_provider=provider)
        serve(app, settings)


if __name__ == "__main__":
    main()
