"""``python -m notification serve|migrate|seed-demo``."""

from __future__ import annotations

import argparse
import asyncio

from notification.settings import get_settings
from tirek.telemetry import configure_logging, install_global, instrument_asyncpg, setup_tracing
from tirek.web.server import serve


async def _seed_demo() -> None:
    from notification.recipients.demo import seed_demo_recipients
    from tirek.db import create_engine, session_factory

    engine = create_engine(get_settings().db_url, pool_size=4, application_name="notification")
    try:
        count = await seed_demo_recipients(session_factory(engine))
    finally:
        await engine.dispose()
    print(f"demo recipients: {count}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m notification")
    parser.add_argument("command", choices=["serve", "migrate", "seed-demo"])
    args = parser.parse_args()
    settings = get_settings()
    configure_logging("notification", settings.log_level)
    if args.command == "migrate":
        from notification.migrate import upgrade

        upgrade(settings)
        return
    if args.command == "seed-demo":
        asyncio.run(_seed_demo())
        return
    provider = setup_tracing("notification")
    install_global(provider)
    instrument_asyncpg(provider)
    from notification.main import create_app

    app = create_app(settings, tracer_provider=provider)
    serve(app, settings)


if __name__ == "__main__":
    main()
