"""``python -m intake serve`` (the HTTP API and event handlers), ``migrate``, or ``reindex``
(fill the blind indexes and the partner hints of persons registered before they existed;
``--all`` rebuilds every one)."""

from __future__ import annotations

import argparse

import uvicorn

from intake.settings import get_settings
from tirek.telemetry import configure_logging, install_global, instrument_asyncpg, setup_tracing


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

        from intake.partners.reindex import reindex_hints
        from intake.persons.reindex import reindex
        from tirek.crypto import key_provider
        from tirek.db import create_engine, session_factory

        async def run() -> tuple[int, int]:
            engine = create_engine(settings.db_url, pool_size=1)
            try:
                keys = key_provider(
                    master_key=settings.master_key, master_key_file=settings.master_key_file
                )
                sessions = session_factory(engine)
                return (
                    await reindex(sessions, keys, everyone=args.all),
                    await reindex_hints(sessions, keys, everyone=args.all),
                )
            finally:
                await engine.dispose()

        persons, hinted = asyncio.run(run())
        print(f"{persons} persons indexed, {hinted} given partner hints")
        return
    provider = setup_tracing("intake")
    install_global(provider)
    instrument_asyncpg(provider)
    from intake.main import create_app

    app = create_app(settings, tracer_provider=provider)
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
    )


if __name__ == "__main__":
    main()
