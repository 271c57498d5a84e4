"""``make bench``: start the platform as ``make run`` does and print one table of figures.

- intake: registrations per second and latency at a fixed concurrency with a realistic
  payload, against the raw ceiling (bench/raw_ceiling.py: FastAPI + asyncpg, one INSERT and
  commit) at the same concurrency; CPU seconds of every service per 1,000 registrations;
- pipeline: commit → reporting projection latency at half intake's sustained rate; and the
  catch-up rate of reporting over a backlog of ``--catchup-events`` waiting in the stream;
- referrals: complete cross-border referrals per second, create → linked case;
- reporting: p50/p95 of the summary, funnel and indicator queries over ``--cases`` generated
  cases (COPY into the projections);
- memory: peak resident memory of each service.

``--only pipeline`` (repeatable) runs one part; sizes are options (``--help``). The load
generator shares the machine with the platform: compare rows with each other, and say what
else was running. It is a script, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform as host
import sys
import time

import psutil

from bench import pipeline, referrals, registrations, reporting
from bench.common import Figure, load, peak_rss_mib, table
from bench.platform import SERVICES, Platform

PARTS = ("intake", "pipeline", "catchup", "referrals", "reporting")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=PARTS, help="run only these parts")
    # Enough for the data to matter: the lookups' cost grew with the NGO's persons (intake
    # migration 0009), and 3,000 registrations did not show it.
    parser.add_argument("--requests", type=int, default=10_000, help="intake: registrations")
    parser.add_argument("--concurrency", type=int, default=16, help="intake: requests in flight")
    parser.add_argument("--warmup", type=int, default=200, help="intake: warm-up requests")
    parser.add_argument(
        "--rate", type=float, help="pipeline: registrations/s (default: half intake's)"
    )
    parser.add_argument("--pipeline-events", type=int, default=1000, help="pipeline: registrations")
    parser.add_argument("--catchup-events", type=int, default=100_000, help="catch-up: backlog")
    parser.add_argument("--referrals", type=int, default=100, help="referral flows")
    parser.add_argument("--referral-concurrency", type=int, default=8, help="flows at a time")
    parser.add_argument("--cases", type=int, default=1_000_000, help="reporting: generated cases")
    parser.add_argument("--query-runs", type=int, default=20, help="reporting: runs per query")
    return parser.parse_args(argv)


async def _sustained_rate(platform: Platform, concurrency: int) -> float:
    url = f"{platform.urls['intake']}/v1/cases"
    headers = await platform.auth("akt-caseworker")
    await load(url, headers, total=100, concurrency=concurrency)
    seconds, _ = await load(url, headers, total=600, concurrency=concurrency)
    return 600 / seconds


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    parts = set(args.only or PARTS)
    started = time.monotonic()
    load_before = os.getloadavg()
    platform = Platform.start()
    figures: list[Figure] = []
    try:
        rate = None
        if "intake" in parts:
            rows, rate = asyncio.run(
                registrations.run(
                    platform,
                    requests=args.requests,
                    concurrency=args.concurrency,
                    warmup=args.warmup,
                )
            )
            figures += rows
        if "pipeline" in parts:
            if args.rate is None and rate is None:
                rate = asyncio.run(_sustained_rate(platform, args.concurrency))
            pace = args.rate or (rate or 0) / 2
            figures.append(
                asyncio.run(pipeline.latency(platform, rate=pace, count=args.pipeline_events))
            )
        if "referrals" in parts:
            figures.append(
                asyncio.run(
                    referrals.run(
                        platform, count=args.referrals, concurrency=args.referral_concurrency
                    )
                )
            )
        if "reporting" in parts:
            seconds = asyncio.run(reporting.generate(platform, cases=args.cases))
            print(f"generated {args.cases:,} cases with COPY in {seconds:.0f} s", flush=True)
            figures += asyncio.run(reporting.queries(platform, runs=args.query_runs))
        # Last: every consumer (notification too) then works through the backlog for minutes,
        # which would slow whatever ran after it.
        if "catchup" in parts:
            figures.append(asyncio.run(pipeline.catch_up(platform, count=args.catchup_events)))
        memory = {name: peak_rss_mib(platform.pid(name)) for name in SERVICES}
        figures.append(
            Figure(
                "peak memory (VmHWM), all services",
                sum(memory.values()),
                "MiB",
                note=", ".join(f"{name} {mib:.0f}" for name, mib in memory.items()),
            )
        )
    finally:
        platform.stop()
    print(
        f"\nmachine: {host.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {host.python_version()}; "
        f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; "
        f"{time.monotonic() - started:.0f} s in all; load generator on the same machine\n"
    )
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
