"""Intake's registrations against the raw ceiling, and the CPU each service spends on them."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

import httpx
import psutil

from bench.common import PAYLOAD, Figure, load, registration
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


class CpuMeter:
    """User + system CPU of groups of processes between :meth:`start` and :meth:`spent`.

    A group is listed again at the end (``groups`` is called twice), so a PostgreSQL backend
    born during the run counts all it spent; one that ended before the end counts through its
    parent, the postmaster, whose children's CPU grows by what each exited child spent. (Until
    that was counted, backends opened and closed during the run were left out: PostgreSQL's
    CPU per registration read a third of what it was.)
    """

    def __init__(self, groups: Callable[[], dict[str, list[psutil.Process]]]) -> None:
        self._groups = groups
        self._before: dict[int, float] = {}

    @staticmethod
    def _times(group: str, processes: list[psutil.Process]) -> dict[int, float]:
        times = {}
        for process in processes:
            with contextlib.suppress(psutil.Error):
                spent = process.cpu_times()
                times[process.pid] = spent.user + spent.system
                if group == "postgres":  # the backends that exited, through the postmaster
                    times[process.pid] += spent.children_user + spent.children_system
        return times

    def start(self) -> None:
        self._before = {}
        for group, processes in self._groups().items():
            self._before |= self._times(group, processes)

    def spent(self) -> dict[str, float]:
        return {
            group: sum(
                t - self._before.get(pid, 0.0) for pid, t in self._times(group, processes).items()
            )
            for group, processes in self._groups().items()
        }


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

    # The whole machine's CPU, not only the services': the database and the broker work for
    # every registration too, and the load generator shares the cores.
    load_generator = psutil.Process(os.getpid())
    services = {name: [p] for name, p in platform.processes().items()}
    infrastructure = platform.infrastructure()
    meter = CpuMeter(
        lambda: services | platform.infrastructure() | {"load generator": [load_generator]}
    )
    meter.start()
    # Persons of their own, not the warm-up's again (bench.common.registration).
    seconds, latencies = await load(
        url,
        headers,
        total=requests,
        concurrency=concurrency,
        body=lambda i: registration(warmup + i),
    )
    # Let the relay and the consumers finish what these registrations caused.
    await asyncio.sleep(5)
    spent = meter.spent()
    assert platform.raw is not None
    raw_server = psutil.Process(platform.raw.pid)
    raw_meter = CpuMeter(
        lambda: (
            {"raw server": [raw_server]}
            | {k: v for k, v in platform.infrastructure().items() if k == "postgres"}
            | {"load generator": [load_generator]}
        )
    )
    raw_meter.start()
    raw_seconds, raw_latencies = await load(raw_url, {}, total=requests, concurrency=concurrency)
    raw_spent = raw_meter.spent()

    rate, raw_rate = requests / seconds, requests / raw_seconds
    per_thousand = {name: spent[name] / requests * 1000 for name in services}
    whole = {name: value / requests * 1000 for name, value in spent.items()}
    raw_whole = {name: value / requests * 1000 for name, value in raw_spent.items()}
    measured = "" if "postgres" in infrastructure else " (PostgreSQL not ours: not counted)"
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
        Figure(
            "CPU s per 1,000 registrations, whole machine",
            sum(whole.values()),
            "CPU s",
            note="services "
            + f"{sum(per_thousand.values()):.2f}, "
            + ", ".join(f"{n} {v:.2f}" for n, v in whole.items() if n not in services)
            + measured,
        ),
        Figure(
            "CPU s per 1,000 raw-ceiling requests, whole machine",
            sum(raw_whole.values()),
            "CPU s",
            note=", ".join(f"{n} {v:.2f}" for n, v in raw_whole.items()) + measured,
        ),
    ]
    return figures, rate
