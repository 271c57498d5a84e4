"""``python -m referral serve`` (the HTTP API and event handlers) or ``python -m referral migrate``."""

from __future__ import annotations

import argparse

from referral.settings import get_settings
from tirek.telemetry import configure_logging, install_global, instrument_asyncpg, setup_tracing
from tirek.web.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m referral")
    parser.add_argument("command", choices=["serve", "migrate"])
    args = parser.parse_args()
    settings = get_settings()
    configure_logging("referral", settings.log_level)
    if args.command == "migrate":
        from referral.migrate import upgrade

        upgrade(settings)
        return
    provider = setup_tracing("referral")
    install_global(provider)
    instrument_asyncpg(provider)
    from referral.main import create_app

    app = create_app(settings, tracer_provider=provider)
    serve(app, settings)


if __name__ == "__main__":
    main()
