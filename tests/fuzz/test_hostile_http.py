"""Hostile HTTP clients against the running services: bounded, clear answers, others served.

Every service runs as ``make run`` runs it (``tirek.web.server`` over uvicorn, the kernel's
middleware), so these are the limits a real client meets: body size (413, also chunked), JSON
depth (422), media type (415), header size (431), and time to send headers (connection closed)
or a body (408) — while another client is answered all along.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fuzz.conftest import BODY_TIMEOUT, HEADER_TIMEOUT, SERVICES, Platform

MIB = 1024 * 1024


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


async def _raw_exchange(url: str, request: bytes, *, wait: float = 10.0) -> bytes:
    """Send ``request`` on a fresh connection; everything the server answers until it closes."""
    reader, writer = await asyncio.open_connection(*_address(url))
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(wait):
            return await reader.read()
    finally:
        writer.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_a_declared_body_over_a_mebibyte_is_refused_with_413(
    platform: Platform, service: str
) -> None:
    async with httpx.AsyncClient(base_url=platform.urls[service], timeout=30) as client:
        response = await client.post(
            "/v1/anything",
            content=b"{" + b" " * MIB + b"}",
            headers={"content-type": "application/json"},
        )
    assert_problem(response, 413)


async def test_a_chunked_body_over_the_limit_is_refused_with_413(platform: Platform) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        # No Content-Length: the limit holds while the body streams in, 64 KiB at a time.
        for _ in range(64):
            sent += 64 * 1024
            yield b" " * (64 * 1024)

    async with httpx.AsyncClient(base_url=platform.urls["intake"], timeout=30) as client:
        response = await client.post(
            "/v1/cases",
            content=chunks(),
            headers={**platform.auth("akt-caseworker"), "content-type": "application/json"},
        )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


@pytest.mark.parametrize("service", SERVICES)
async def test_json_nested_without_end_is_refused_with_422_and_the_service_stays_up(
    platform: Platform, service: str
) -> None:
    nested = b'{"person": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    async with httpx.AsyncClient(base_url=platform.urls[service], timeout=30) as client:
        response = await client.post(
            "/v1/anything", content=nested, headers={"content-type": "application/json"}
        )
        body = assert_problem(response, 422)
        assert str(body["type"]).endswith("/json-too-deep")
        assert (await client.get("/health/live")).status_code == 200


async def test_a_registration_that_is_not_json_is_refused_with_415(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.urls["intake"], timeout=30) as client:
        before = (
            await client.get("/v1/cases?limit=100", headers=platform.auth("akt-caseworker"))
        ).json()["items"]
        response = await client.post(
            "/v1/cases",
            content=b"first_name=Aizhan&second_name=Kasymova",
            headers={
                **platform.auth("akt-caseworker"),
                "content-type": "application/x-www-form-urlencoded",
            },
        )
        body = assert_problem(response, 415)
        assert "Kasymova" not in response.text
        assert str(body["type"]).endswith("/unsupported-content-type")
        after = (
            await client.get("/v1/cases?limit=100", headers=platform.auth("akt-caseworker"))
        ).json()["items"]
    assert after == before


@pytest.mark.parametrize("service", SERVICES)
async def test_headers_over_the_limit_are_refused_with_431(
    platform: Platform, service: str
) -> None:
    request = (
        b"GET /health/live HTTP/1.1\r\nHost: tirek\r\nX-Filler: "
        + b"a" * (128 * 1024)
        + b"\r\n\r\n"
    )
    answer = await _raw_exchange(platform.urls[service], request)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


async def test_a_client_that_trickles_its_headers_is_cut_off_while_others_are_answered(
    platform: Platform,
) -> None:
    url = platform.urls["intake"]
    slow: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(50):
        reader, writer = await asyncio.open_connection(*_address(url))
        writer.write(b"POST /v1/cases HTTP/1.1\r\nHost: tirek\r\n")
        slow.append((reader, writer))
    started = time.monotonic()
    answered: list[int] = []

    async def trickle(writer: asyncio.StreamWriter) -> None:
        # One header byte every 200 ms: never finishing, never idle.
        for _ in range(int(HEADER_TIMEOUT * 5) + 15):
            try:
                writer.write(b"X")
                await writer.drain()
            except ConnectionError:
                return  # the server hung up: what we wait for
            await asyncio.sleep(0.2)

    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        trickling = [asyncio.create_task(trickle(w)) for _, w in slow]
        while time.monotonic() - started < HEADER_TIMEOUT + 1:
            answered.append((await client.get("/health/live")).status_code)
            await asyncio.sleep(0.2)
        closed = 0
        for reader, _ in slow:
            async with asyncio.timeout(HEADER_TIMEOUT + 5):
                try:
                    closed += await reader.read() == b""
                except ConnectionError:
                    closed += 1  # our trickle hit the closed socket first
        for task in trickling:
            task.cancel()
        await asyncio.gather(*trickling, return_exceptions=True)
    for _, writer in slow:
        writer.close()
    assert answered and set(answered) == {200}, answered
    assert closed == len(slow), f"{len(slow) - closed} slow clients still held a connection"


async def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    platform: Platform,
) -> None:
    reader, writer = await asyncio.open_connection(*_address(platform.urls["referral"]))
    started = time.monotonic()
    try:
        async with asyncio.timeout(HEADER_TIMEOUT + 10):
            assert await reader.read() == b""
    finally:
        writer.close()
    assert time.monotonic() - started >= HEADER_TIMEOUT - 0.5


async def test_a_body_that_trickles_in_is_answered_408(platform: Platform) -> None:
    head = (
        b"POST /v1/cases HTTP/1.1\r\nHost: tirek\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + platform.token("akt-caseworker").encode() + b"\r\n"
        b"Content-Length: 400\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection(*_address(platform.urls["intake"]))
    try:
        writer.write(head + b'{"person": ')
        await writer.drain()
        async with asyncio.timeout(BODY_TIMEOUT + 10):
            answer = await reader.read()
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"application/problem+json" in answer
