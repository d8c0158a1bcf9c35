"""The worker's /healthz (liveness: its event loop ran within WORKER_HEALTH_STALE_SECONDS) and /metrics."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from app.core.metrics_server import LoopHeartbeat, MetricsServer
from app.worker import run_worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def get_when_up(url: str, *, within: float = 10.0) -> httpx.Response:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while True:
            try:
                return await client.get(url)
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)


async def test_the_worker_serves_healthz_and_metrics_on_its_port(settings, owner_db):
    port = free_port()
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(settings.model_copy(update={"worker_health_port": port}), stop, tracking=False, maintenance=False)
    )
    try:
        health = await get_when_up(f"http://127.0.0.1:{port}/healthz")
        async with httpx.AsyncClient() as client:
            scrape = await client.get(f"http://127.0.0.1:{port}/metrics")
            missing = await client.get(f"http://127.0.0.1:{port}/nothing")
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["stale_after_seconds"] == settings.worker_health_stale_seconds
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    assert "courier_hub_webhook_backlog 0.0" in scrape.text  # read through ops_backlog() at the scrape
    assert "courier_hub_webhook_delivery_attempts_total" in scrape.text
    assert missing.status_code == 404
    async with httpx.AsyncClient() as client:  # the server went with the worker
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


async def test_healthz_is_503_once_the_loop_stopped_running():
    heartbeat = LoopHeartbeat(stale_seconds=0.3)
    stop = asyncio.Event()
    ticker = asyncio.create_task(heartbeat.tick(stop))
    server = MetricsServer("127.0.0.1", 0, health=heartbeat.check).start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    try:
        async with httpx.AsyncClient() as client:
            await asyncio.sleep(0.5)  # ticking: alive past the stale time
            alive = await client.get(url)
            stop.set()
            await ticker
            await asyncio.sleep(0.5)  # no tick for longer than stale_seconds
            stale = await client.get(url)
    finally:
        server.stop()
    assert alive.status_code == 200 and alive.json()["status"] == "ok"
    assert stale.status_code == 503 and stale.json()["status"] == "stale"
    assert stale.json()["seconds_since_loop_ran"] >= 0.3
