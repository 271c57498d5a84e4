"""The dashboard in headless Chromium (Debian's ``chromium``, driven by Playwright with
``executable_path``): it loads with the generated history, switches language, filters by
country, and its export button downloads a file; a screenshot is saved by the run."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from tests.reporting.conftest import Reporting
from tirek.demo.consortium import DEMO_PASSWORD
from tirek.localstack.servers import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Where the run leaves its screenshot (``TIREK_ARTIFACTS`` or the system's temp dir).
ARTIFACTS = Path(os.environ.get("TIREK_ARTIFACTS", tempfile.gettempdir()))

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture(scope="session")
async def dashboard_url(reporting: Reporting) -> AsyncIterator[str]:
    """The in-process app served over real HTTP (the browser needs a socket)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(reporting.app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    # uvicorn exposes only a flag; poll it with a deadline.
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "the dashboard's HTTP server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_the_dashboard_loads_switches_language_filters_and_exports(
    dashboard_url: str,
) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = await browser.new_page(
                viewport={"width": 390, "height": 844}, accept_downloads=True
            )
            await page.goto(f"{dashboard_url}/dashboard?lang=en")
            assert page.url.endswith("/dashboard/login"), "an anonymous visitor must sign in"
            await page.fill("input[name=username]", "coordinator")
            await page.fill("input[name=password]", DEMO_PASSWORD)
            await page.click("#login")
            await page.wait_for_selector("[data-headline=cases_opened]")
            opened = await page.inner_text("[data-headline=cases_opened] .n")
            assert opened.strip().isdigit() and int(opened) > 0, "headline without the history"

            await page.click("a[data-lang=kk]")
            await page.wait_for_load_state()
            assert "Тірек есептері" in await page.inner_text("h1"), (
                "the page did not switch to Kazakh"
            )

            await page.select_option("#country", "KG")
            await page.click("#apply")
            await page.wait_for_load_state()
            assert "country=KG" in page.url
            rows = await page.locator(
                "table[data-table=cases] tbody td:first-child"
            ).all_inner_texts()
            assert set(rows) == {"OSH", "JAL"}, f"the country filter shows {rows}"

            async with page.expect_download() as download_info:
                await page.click("a[data-export=indicators-csv]")
            download = await download_info.value
            target = ARTIFACTS / "tirek-reporting-indicators.csv"
            await download.save_as(target)
            assert target.read_bytes().decode("utf-8-sig").startswith("table,row_header")

            screenshot = ARTIFACTS / "tirek-reporting-dashboard.png"
            await page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 0
        finally:
            await browser.close()
