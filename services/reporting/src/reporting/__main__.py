"""``python -m reporting serve`` (API and event handlers), ``migrate``, or ``rebuild``
(replay every stream into fresh projections and swap them in)."""

from __future__ import annotations

import argparse
import asyncio

from reporting.settings import ReportingSettings, get_settings
from tirek.telemetry import configure_logging, install_global, instrument_asyncpg, setup_tracing
from tirek.web.server import serve


async def _rebuild(settings: ReportingSettings) -> None:
    import nats

    from reporting.projections.rebuild import rebuild
    from tirek.db import create_engine, session_factory
    from tirek.messaging.broker import nats_connect_options
    from tirek.messaging.naming import Naming

    engine = create_engine(settings.db_url, pool_size=4, application_name="reporting-rebuild")
    nc = await nats.connect(
        settings.nats_servers,
        connect_timeout=5,
        max_reconnect_attempts=3,
        **nats_connect_options(settings),
    )
    try:
        result = await rebuild(session_factory(engine), nc.jetstream(), Naming(settings.namespace))
        print(f"rebuilt generation {result.generation} from {result.events} events")
    finally:
        await nc.close()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m reporting")
    parser.add_argument("command", choices=["serve", "migrate", "rebuild"])
    args = parser.parse_args()
    settings = get_settings()
    configure_logging("reporting", settings.log_level)
    if args.command == "migrate":
        from reporting.migrate import upgrade

        upgrade(settings)
        return
    if args.command == "rebuild":
        asyncio.run(_rebuild(settings))
        return
    provider = setup_tracing("reporting")
    install_global(provider)
    instrument_asyncpg(provider)
    from reporting.main import create_app

    app = create_app(settings, tracer_provider=provider)
    serve(app, settings)


if __name__ == "__main__":
    main()
