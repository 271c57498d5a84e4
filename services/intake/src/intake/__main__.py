"""``python -m intake serve`` (the HTTP API and event handlers), ``migrate``, or ``reindex``
(fill the blind indexes of persons registered before they existed; ``--all`` rebuilds every one)."""

from __future__ import annotations

import argparse

from intake.settings import get_settings
from tirek.telemetry import configure_logging, install_global, instrument_asyncpg, setup_tracing
from tirek.web.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m intake")
    parser.add_argument("command", choices=["serve", "migrate", "reindex"])
    parser.add_argument("--all", action="store_true", help="reindex: every person, not only new")
    args = parser.parse_args()
    settings = get_settings()
    configure_logging("intake", settings.log_level)
    if args.command == "migrate":
        from intake.migrate import upgrade

        upgrade(settings)
        return
    if args.command == "reindex":
        import asyncio

        from intake.persons.reindex import reindex
        from tirek.crypto import key_provider
        from tirek.db import create_engine, session_factory

        async def run() -> int:
            engine = create_engine(settings.db_url, pool_size=1)
            try:
                keys = key_provider(
                    master_key=settings.master_key, master_key_file=settings.master_key_file
                )
                return await reindex(session_factory(engine), keys, everyone=args.all)
            finally:
                await engine.dispose()

        print(f"{asyncio.run(run())} persons indexed")
        return
    provider = setup_tracing("intake")
    install_global(provider)
    instrument_asyncpg(provider)
    from intake.main import create_app

    app = create_app(settings, tracer_provider=provider)
    serve(app, settings)


if __name__ == "__main__":
    main()
