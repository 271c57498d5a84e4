"""``make bench``: start the platform as ``make run`` does and print figures.

Measured in one run on this machine, at a fixed concurrency, with a realistic payload:
- intake: registrations per second and p50/p95/p99 latency;
- the raw ceiling (bench/raw_ceiling.py: FastAPI + asyncpg, one INSERT and commit per request)
  at the same concurrency, and intake's rate as a fraction of it;
- CPU seconds of the intake process per 1,000 registrations, and its peak memory.
The load generator runs on the same machine (2 cores here): the figures are relative, and the
machine and the settings are printed with them. Other figures of issue 8 (event pipeline,
referral flow, reporting queries) join here as those services land.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from tirek.db.provision import ensure_service_database
from tirek.demo.seed import password_token, publish_tenants
from tirek.localstack.servers import free_port, wait_for_port
from tirek.localstack.stack import Stack
from tirek.messaging.naming import Naming

PAYLOAD = {
    "person": {
        "first_name": "Тахир",
        "second_name": "Сабиров",
        "patronymic": "Рустамович",
        "name_latin": "Takhir Sabirov",
        "sex": "male",
        "birth_date": "1996-05-14",
        "citizenship": "TJ",
        "languages": ["ru", "tg"],
        "phone": "+77011234567",
        "current_location": "Aktobe, a construction site on the city's outskirts",
        "documents": [{"type": "passport", "status": "confiscated", "issuing_country": "TJ"}],
    },
    "categories": ["presumed_victim_of_trafficking", "labour_migrant"],
    "exploitation_forms": ["labour"],
    "trm_stage": "identification",
    "risk_level": "high",
    "notes": "Contacted the hotline; employer holds his passport; unpaid for four months.",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load(
    url: str, headers: dict[str, str], *, total: int, concurrency: int
) -> tuple[float, list[float]]:
    """POST ``total`` registrations with ``concurrency`` in flight; (seconds, latencies in ms)."""
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                response = await client.post(url, json=PAYLOAD, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 201:
                    raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="tirek-bench-"))
    home.chmod(0o755)
    os.environ.setdefault("TIREK_DEVIDP_PORT", str(free_port()))
    os.environ.setdefault("TIREK_INTAKE_PORT", str(free_port()))
    os.environ.setdefault("TIREK_SERVICES", "intake")
    stack = Stack(home)
    raw: subprocess.Popen[bytes] | None = None
    try:
        urls = stack.start()
        asyncio.run(publish_tenants(urls["nats"], Naming(os.environ.get("TIREK_NAMESPACE", ""))))
        db = asyncio.run(ensure_service_database(urls["postgres"], "bench_raw"))
        raw_port = free_port()
        raw = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.raw_ceiling:app",
                "--port",
                str(raw_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env={**os.environ, "BENCH_DSN": db.owner_dsn},
        )
        wait_for_port(raw_port)

        async def run() -> dict[str, tuple[float, list[float]]]:
            async with httpx.AsyncClient() as client:
                token = await password_token(
                    client, f"{urls['issuer']}realms/tirek", "akt-caseworker"
                )
            headers = {"Authorization": f"Bearer {token}"}
            intake_url = f"{urls['intake']}/v1/cases"
            # Wait for intake to know the tenant, then warm both up.
            for _ in range(100):
                async with httpx.AsyncClient() as client:
                    if (
                        await client.post(intake_url, json=PAYLOAD, headers=headers)
                    ).status_code == 201:
                        break
                await asyncio.sleep(0.2)
            await load(intake_url, headers, total=args.warmup, concurrency=args.concurrency)
            await load(
                f"http://127.0.0.1:{raw_port}/rows",
                {},
                total=args.warmup,
                concurrency=args.concurrency,
            )
            results = {}
            intake_proc = psutil.Process(next(p.pid for n, p in stack.processes if n == "intake"))
            cpu_before = sum(intake_proc.cpu_times()[:2])
            results["intake"] = await load(
                intake_url, headers, total=args.requests, concurrency=args.concurrency
            )
            cpu = sum(intake_proc.cpu_times()[:2]) - cpu_before
            results["raw"] = await load(
                f"http://127.0.0.1:{raw_port}/rows",
                {},
                total=args.requests,
                concurrency=args.concurrency,
            )
            results["cpu"] = (cpu, [])
            return results

        results = asyncio.run(run())
        intake_pid = next(p.pid for n, p in stack.processes if n == "intake")
        rates = {k: args.requests / results[k][0] for k in ("intake", "raw")}
        print(
            f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
        )
        print(
            f"load: {args.requests} POSTs, concurrency {args.concurrency}, load generator on the same machine\n"
        )
        print(f"{'endpoint':<34} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
        for key, label in (
            ("intake", "intake POST /v1/cases"),
            ("raw", "raw ceiling (FastAPI+asyncpg)"),
        ):
            lat = results[key][1]
            print(
                f"{label:<34} {rates[key]:>8.0f} {statistics.median(lat):>8.1f} "
                f"{percentile(lat, 0.95):>8.1f} {percentile(lat, 0.99):>8.1f}"
            )
        print(f"\nintake / raw ceiling: {rates['intake'] / rates['raw']:.2f}")
        print(
            f"intake CPU seconds per 1,000 registrations: {results['cpu'][0] / args.requests * 1000:.2f}"
        )
        print(f"intake peak memory (VmHWM): {peak_rss_mib(intake_pid):.0f} MiB")
        return 0
    finally:
        if raw is not None:
            raw.terminate()
            raw.wait(10)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
