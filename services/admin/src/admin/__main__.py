"""``python -m admin serve`` (the HTTP API and event handlers) or ``python -m admin migrate``."""

from __future__ import annotations

import argparse

from admin.settings import get_settings
from tirek.telemetry import configure_logging, install_global, instrument_asyncpg, setup_tracing
from tirek.web.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m admin")
    parser.add_argument("command", choices=["serve", "migrate"])
    args = parser.parse_args()
    settings = get_settings()
    configure_logging("admin", settings.log_level)
    if args.command == "migrate":
        from admin.migrate import upgrade

        upgrade(settings)
        return
    provider = setup_tracing("admin")
    install_global(provider)
    instrument_asyncpg(provider)
    from admin.main import create_app

    app = create_app(settings, tracer_provider=provider)
    serve(app, settings)


if __name__ == "__main__":
    main()
