"""Intake's registrations against the raw ceiling, and the CPU each service spends on them."""

from __future__ import annotations

import asyncio

import httpx

from bench.common import PAYLOAD, Figure, load
from bench.platform import Platform

NGOS = ("akt", "tld", "osh", "jal", "nuk")


async def _wait_until_intake_registers(platform: Platform, url: str) -> None:
    """Until intake knows every NGO (it learns them from the tenant events)."""
    async with httpx.AsyncClient(timeout=30) as client:
        for code in NGOS:
            headers = await platform.auth(f"{code}-caseworker")
            for _ in range(100):
                if (await client.post(url, json=PAYLOAD, headers=headers)).status_code == 201:
                    break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"intake never accepted a registration of {code}")


async def run(
    platform: Platform, *, requests: int, concurrency: int, warmup: int
) -> tuple[list[Figure], float]:
    """Rows for intake, the raw ceiling, their ratio and CPU per 1,000; and intake's rate."""
    url = f"{platform.urls['intake']}/v1/cases"
    raw_url = platform.raw_url or await asyncio.to_thread(platform.start_raw_ceiling)
    await _wait_until_intake_registers(platform, url)
    # The five NGOs register at once, as on a consortium's busy day (each NGO's numbers are
    # consecutive, so one NGO's registrations queue behind each other's number).
    headers = [await platform.auth(f"{code}-caseworker") for code in NGOS]
    await load(url, headers, total=warmup, concurrency=concurrency)
    await load(raw_url, {}, total=warmup, concurrency=concurrency)

    processes = platform.processes()
    before = {name: sum(p.cpu_times()[:2]) for name, p in processes.items()}
    seconds, latencies = await load(url, headers, total=requests, concurrency=concurrency)
    # Let the relay and the consumers finish what these registrations caused.
    await asyncio.sleep(5)
    cpu = {name: sum(p.cpu_times()[:2]) - before[name] for name, p in processes.items()}
    raw_seconds, raw_latencies = await load(raw_url, {}, total=requests, concurrency=concurrency)

    rate, raw_rate = requests / seconds, requests / raw_seconds
    per_thousand = {name: spent / requests * 1000 for name, spent in cpu.items()}
    how = f"{requests} POSTs, concurrency {concurrency}, {len(NGOS)} NGOs"
    figures = [
        Figure("intake POST /v1/cases", rate, "reg/s", latencies, how),
        Figure("raw ceiling (FastAPI+asyncpg, 1 INSERT)", raw_rate, "req/s", raw_latencies, how),
        Figure("intake / raw ceiling", rate / raw_rate, "", note="target >= 0.5"),
        Figure(
            "CPU s per 1,000 registrations, all services",
            sum(per_thousand.values()),
            "CPU s",
            note=", ".join(f"{n} {v:.2f}" for n, v in per_thousand.items() if v >= 0.01),
        ),
    ]
    return figures, rate
