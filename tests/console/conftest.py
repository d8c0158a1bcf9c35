"""Fixtures of the browser tests: the API served by a real uvicorn on a free port, FedEx's stand-in, Chromium.

One server, one stand-in and one browser for the whole session (each test gets
its own browser context, so its own cookies). Everything runs in the test
session's event loop: the server, the stand-in and the workers the tests run
(batch booker, webhook sender) are tasks beside Playwright's async API.
Chromium is Debian's (/usr/bin/chromium, installed by .ci/run); Playwright's own
browser download is not used. Screenshots go to artifacts/console/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.carriers.http import CarrierHttp
from app.core.config import Settings
from app.core.crypto import cipher_from_settings
from app.core.db.session import Database
from app.labels.batch_worker import BatchBooker
from app.webhooks import ssrf
from app.webhooks.delivery import DeliverySender
from tests.conftest import REPO_ROOT
from tests.console.standin import FedexStandIn, free_port

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "artifacts" / "console"
WIDTHS = {"desktop": (1280, 860), "phone": (390, 844)}


@dataclass
class ConsoleServer:
    """The running console: its base URL, settings, database and FedEx stand-in."""

    url: str
    settings: Settings
    db: Database
    fedex: FedexStandIn


@pytest.fixture(scope="session")
async def fedex() -> AsyncIterator[FedexStandIn]:
    """FedEx's stand-in, serving for the session."""
    server = FedexStandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def console_server(settings: Settings, fedex: FedexStandIn) -> AsyncIterator[ConsoleServer]:
    """create_app() served by uvicorn on 127.0.0.1:<free port> (FedEx at the stand-in, local webhook receivers allowed,
    a fast webhook retry schedule, rate limits off: the tests click faster than a plan allows)."""
    from app.main import create_app

    port = free_port()
    served = settings.model_copy(
        update={
            "fedex_base_url": fedex.url,
            "webhook_dev_allowed_hosts": "127.0.0.1",
            "webhook_retry_schedule_seconds": [0.05, 0.05],
            "webhook_retry_jitter": 0.0,
            "webhook_timeout_seconds": 2.0,
            "rate_limit_enabled": False,
            "public_base_url": f"http://127.0.0.1:{port}",
            "carrier_max_retries": 0,
        }
    )
    application = create_app(served)
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    db = Database.from_settings(served)
    yield ConsoleServer(url=f"http://127.0.0.1:{port}", settings=served, db=db, fedex=fedex)
    await db.dispose()
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium through Playwright (skips when neither is installed)."""
    playwright_api = pytest.importorskip("playwright.async_api")
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing browser there is a broken run, not a skip
        pytest.skip(message)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Any, console_server: ConsoleServer, owner_db: Database) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) and page on the console server; CSP violations and page errors fail the test."""
    context = await browser.new_context(
        base_url=console_server.url, viewport={"width": 1280, "height": 860}, accept_downloads=True
    )
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" and "Content Security Policy" in msg.text else None)
    page.set_default_timeout(10_000)
    yield page
    await context.close()
    assert not problems, problems


async def shoot(page: Any, name: str) -> None:
    """Screenshots of the current page at 1280 px and at 390 px (phone), full page, into artifacts/console/."""
    for label, (width, height) in WIDTHS.items():
        await page.set_viewport_size({"width": width, "height": height})
        await page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 860})


async def sign_in(page: Any, key: str) -> None:
    """Sign in through the form with `key`."""
    await page.goto("/console/sign-in")
    await page.fill("input[name=api_key]", key)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


@pytest.fixture
def batch_booker(console_server: ConsoleServer) -> BatchBooker:
    """The label-batch worker, as `courier-hub worker` runs it, against the console server's database and stand-in."""
    settings = console_server.settings
    return BatchBooker(db=console_server.db, settings=settings, cipher=cipher_from_settings(settings), http=CarrierHttp(settings=settings))


@pytest.fixture
async def delivery_sender(console_server: ConsoleServer) -> AsyncIterator[DeliverySender]:
    """The webhook delivery worker with the console server's (fast-retry, local-hosts) settings."""
    settings = console_server.settings
    client = ssrf.build_webhook_client(settings=settings)
    yield DeliverySender(
        db=console_server.db, settings=settings, cipher=cipher_from_settings(settings), client=client, rng=random.Random(7)
    )
    await client.aclose()
