"""What every figure of the benchmark shares: the payload, the load generator, percentiles."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: A realistic registration: names in two alphabets, documents, a note.
PAYLOAD: dict[str, Any] = {
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


# Names for :func:`registration`: (Cyrillic, Latin) pairs, as caseworkers type them.
_FIRST = [
    ("Тахир", "Takhir"), ("Рустам", "Rustam"), ("Фарход", "Farkhod"), ("Азамат", "Azamat"),
    ("Бахтиёр", "Bakhtiyor"), ("Жасур", "Jasur"), ("Нурлан", "Nurlan"), ("Эркин", "Erkin"),
    ("Шерзод", "Sherzod"), ("Улугбек", "Ulugbek"), ("Айбек", "Aibek"), ("Даврон", "Davron"),
    ("Дильшод", "Dilshod"), ("Ислом", "Islom"), ("Камол", "Kamol"), ("Мирзо", "Mirzo"),
    ("Гулнора", "Gulnora"), ("Дилноза", "Dilnoza"), ("Малика", "Malika"), ("Нигора", "Nigora"),
    ("Айгуль", "Aigul"), ("Жыпар", "Jypar"), ("Асель", "Asel"), ("Зарина", "Zarina"),
    ("Мадина", "Madina"), ("Шахноза", "Shakhnoza"), ("Феруза", "Feruza"), ("Сабина", "Sabina"),
    ("Назира", "Nazira"), ("Лола", "Lola"),
]  # fmt: skip
_FAMILY = [
    ("Сабиров", "Sabirov"), ("Каримов", "Karimov"), ("Рахимов", "Rakhimov"),
    ("Юсупов", "Yusupov"), ("Назаров", "Nazarov"), ("Алиев", "Aliev"), ("Турсунов", "Tursunov"),
    ("Исмаилов", "Ismailov"), ("Абдуллаев", "Abdullaev"), ("Хакимов", "Khakimov"),
    ("Мамытов", "Mamytov"), ("Осмонов", "Osmonov"), ("Асанов", "Asanov"),
    ("Жумабаев", "Zhumabaev"), ("Сейтказиев", "Seitkaziev"), ("Бекмуратов", "Bekmuratov"),
    ("Токтогулов", "Toktogulov"), ("Эргашев", "Ergashev"), ("Усмонов", "Usmonov"),
    ("Шарипов", "Sharipov"), ("Файзуллаев", "Faizullaev"), ("Мирзоев", "Mirzoev"),
    ("Давлатов", "Davlatov"), ("Кадыров", "Kadyrov"), ("Султанов", "Sultanov"),
    ("Ниязов", "Niyazov"), ("Орозов", "Orozov"), ("Садыков", "Sadykov"),
    ("Тошматов", "Toshmatov"), ("Холматов", "Kholmatov"),
]  # fmt: skip
_FATHER = [
    "Рустам", "Фарход", "Азамат", "Бахтиёр", "Нурлан", "Эркин", "Шерзод", "Улугбек", "Даврон",
    "Ислом", "Камол", "Мирзо", "Жасур", "Айбек", "Тахир",
]  # fmt: skip
#: Every ``REPEAT_EVERY``-th registration is a person registered before (a returning client,
#: or a second NGO's intake of the same person): the duplicate and partner checks find them.
REPEAT_EVERY = 20


def registration(i: int) -> dict[str, Any]:
    """Registration ``i`` of a busy day: :data:`PAYLOAD` with a person of their own.

    Names are drawn without repeats for the first 13,500 (first × family × father's names);
    every :data:`REPEAT_EVERY`-th registration repeats an earlier person. The same person
    registered thousands of times, as the benchmark first did, is a storm of duplicates whose
    checks match thousands of cases each: not a busy day."""
    if i % REPEAT_EVERY == REPEAT_EVERY - 1:
        i -= REPEAT_EVERY // 2
    n = (i * 7919) % (len(_FIRST) * len(_FAMILY) * len(_FATHER))
    (first, first_latin), rest = _FIRST[n % len(_FIRST)], n // len(_FIRST)
    (family, family_latin), father = _FAMILY[rest % len(_FAMILY)], _FATHER[rest // len(_FAMILY)]
    female = first in {name for name, _ in _FIRST[16:]}
    person = PAYLOAD["person"] | {
        "first_name": first,
        "second_name": family + ("а" if female else ""),
        "patronymic": father + ("овна" if female else "ович"),
        "name_latin": f"{first_latin} {family_latin}{'a' if female else ''}",
        "sex": "female" if female else "male",
        "birth_date": f"{1970 + n % 35}-{1 + n % 12:02d}-{1 + n % 28:02d}",
    }
    return PAYLOAD | {"person": person}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Figure:
    """One row of the table: a rate and/or latency percentiles, with a note on how."""

    name: str
    rate: float | None = None
    unit: str = ""
    latencies_ms: list[float] = field(default_factory=list)
    note: str = ""

    def row(self) -> str:
        digits = 2 if not self.unit else 1  # a ratio
        rate = f"{self.rate:,.{digits}f} {self.unit}" if self.rate is not None else ""
        lat = self.latencies_ms
        cells = [f"{percentile(lat, q):.1f}" for q in (0.5, 0.95, 0.99)] if lat else ["", "", ""]
        return f"{self.name:<44} {rate:>18} {cells[0]:>9} {cells[1]:>9} {cells[2]:>9}  {self.note}"


def table(figures: list[Figure]) -> str:
    head = f"{'figure':<44} {'rate':>18} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}  how"
    return "\n".join([head, "-" * len(head), *(f.row() for f in figures)])


async def load(
    url: str,
    headers: dict[str, str] | list[dict[str, str]],
    *,
    total: int,
    concurrency: int,
    body: dict[str, Any] | Callable[[int], dict[str, Any]] = registration,
    on_created: Callable[[dict[str, Any], float], None] | None = None,
) -> tuple[float, list[float]]:
    """POST ``total`` bodies with ``concurrency`` in flight; (seconds, latencies in ms).

    ``body`` is one body for every request, or ``body(i)`` the body of request ``i``
    (default: :func:`registration`).

    ``headers`` may be a list: request ``i`` sends ``headers[i % len(headers)]`` (several
    NGOs' users registering at once)."""
    latencies: list[float] = []
    rotation = headers if isinstance(headers, list) else [headers]
    remaining = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            for i in remaining:
                started = time.perf_counter()
                response = await client.post(
                    url,
                    json=body(i) if callable(body) else body,
                    headers=rotation[i % len(rotation)],
                )
                done = time.perf_counter()
                latencies.append((done - started) * 1000)
                if response.status_code != 201:
                    raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
                if on_created is not None:
                    on_created(response.json(), done)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


async def paced(
    count: int, rate: float, call: Callable[[int], Awaitable[None]], *, in_flight: int = 64
) -> float:
    """Start ``call(i)`` ``count`` times at ``rate`` per second (open loop); seconds taken."""
    gate = asyncio.Semaphore(in_flight)
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()

    async def one(i: int) -> None:
        async with gate:
            await call(i)

    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
