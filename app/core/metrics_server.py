"""Scrape-time metrics and the small metrics/health server of METRICS_PORT and WORKER_HEALTH_PORT.

* `refresh_ops_gauges(db)`: the cross-tenant backlog gauges of app.core.metrics,
  read through the SECURITY DEFINER function `ops_backlog()` (migration 0008:
  the application role cannot count across tenants under row-level security).
* `watch_pool(db)`: DB_POOL_IN_USE reads the engine's pool at each scrape.
* `MetricsServer`: prometheus-client's WSGI app (and `/healthz` when given a
  health check) in a daemon thread, so it answers even while the event loop is
  busy; scrape hooks that need the database run on the event loop through
  `on_loop`.
* `LoopHeartbeat`: the worker's liveness, the time its event loop last ran.

Neither server has authentication: bind it (METRICS_HOST) to a private address only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import REGISTRY, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from sqlalchemy import text

from app.core import metrics

logger = logging.getLogger(__name__)

SCRAPE_QUERY_TIMEOUT_SECONDS = 5.0
"""A scrape gives up on the backlog query after this long (the gauges keep their last values)."""


async def refresh_ops_gauges(db: Any) -> bool:
    """Set the webhook/tracking backlog gauges from `ops_backlog()`; False (logged, gauges unchanged) if the database fails.

    `db` is an `app.core.db.session.Database` (application role). Ages in seconds.
    """
    try:
        async with asyncio.timeout(SCRAPE_QUERY_TIMEOUT_SECONDS):
            async with db.transaction() as session:
                row = (
                    await session.execute(
                        text(
                            "SELECT webhook_backlog, webhook_backlog_oldest_seconds, webhook_endpoints_disabled, "
                            "tracking_backlog FROM ops_backlog()"
                        )
                    )
                ).one()
    except Exception as exc:  # noqa: BLE001 - a scrape must answer while the database is down
        logger.warning("metrics: backlog query failed: %s: %s", type(exc).__name__, exc)
        return False
    metrics.WEBHOOK_BACKLOG.set(row.webhook_backlog)
    metrics.WEBHOOK_BACKLOG_AGE.set(row.webhook_backlog_oldest_seconds)
    metrics.WEBHOOK_ENDPOINTS_DISABLED.set(row.webhook_endpoints_disabled)
    metrics.TRACKING_BACKLOG.set(row.tracking_backlog)
    return True


def watch_pool(db: Any) -> None:
    """Make DB_POOL_IN_USE read `db`'s pool (connections checked out) at every scrape; the last call wins."""

    def in_use() -> float:
        pool = db.engine.pool  # read each time: dispose() replaces the pool
        checkedout = getattr(pool, "checkedout", None)
        return float(checkedout()) if callable(checkedout) else 0.0

    metrics.DB_POOL_IN_USE.set_function(in_use)


def on_loop(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[Any]], *, timeout: float) -> Callable[[], None]:
    """A scrape hook for `MetricsServer`: runs the coroutine `make()` on `loop` and waits up to `timeout` seconds.

    A hook that fails or times out is logged; the scrape still answers (with the last values).
    """

    def hook() -> None:
        future = asyncio.run_coroutine_threadsafe(make(), loop)  # type: ignore[arg-type]
        try:
            future.result(timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - never fail a scrape
            future.cancel()
            logger.warning("metrics: scrape hook failed: %s: %s", type(exc).__name__, exc)

    return hook


class LoopHeartbeat:
    """The worker's liveness: `tick` runs on its event loop and stamps the time; `check` reads it from any thread.

    Alive while the loop ran within `stale_seconds` (a blocked or dead loop stops the ticks).
    """

    def __init__(self, *, stale_seconds: float, interval_seconds: float = 1.0) -> None:
        self.stale_seconds = stale_seconds
        self.interval_seconds = min(interval_seconds, stale_seconds / 2)
        self.last_tick = time.monotonic()

    async def tick(self, stop: asyncio.Event) -> None:
        """Stamp the time every `interval_seconds` until `stop` is set."""
        while not stop.is_set():
            self.last_tick = time.monotonic()
            with contextlib.suppress(TimeoutError):  # the interval passed: tick again
                await asyncio.wait_for(stop.wait(), timeout=self.interval_seconds)

    def check(self) -> tuple[bool, dict[str, Any]]:
        """(alive, body): body is `{"status": "ok"|"stale", "seconds_since_loop_ran": float, "stale_after_seconds": float}`."""
        since = time.monotonic() - self.last_tick
        alive = since <= self.stale_seconds
        return alive, {
            "status": "ok" if alive else "stale",
            "seconds_since_loop_ran": round(since, 3),
            "stale_after_seconds": self.stale_seconds,
        }


class _QuietHandler(WSGIRequestHandler):
    """No access line per scrape (every 15 s forever)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        return


class _ThreadingWSGIServerV6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class MetricsServer:
    """`GET /metrics` (Prometheus text format) and optionally `GET /healthz` on `host:port`, in a daemon thread.

    Args:
        host, port: bind address (port 0: any free port, see `port` after `start`).
        before_scrape: hooks run (in the server thread) before each /metrics answer.
        health: returns (alive, JSON body) for /healthz: 200 when alive, else 503. None: /healthz is 404.

    `start` raises OSError when the address cannot be bound.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        before_scrape: Iterable[Callable[[], None]] = (),
        health: Callable[[], tuple[bool, dict[str, Any]]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.before_scrape = list(before_scrape)
        self.health = health
        self._metrics_app = make_wsgi_app(REGISTRY)
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz" and self.health is not None:
            alive, body = self.health()
            status = "200 OK" if alive else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            return [json.dumps(body).encode()]
        if path == "/metrics":
            for hook in self.before_scrape:
                hook()
            return self._metrics_app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics" + (b" or /healthz" if self.health is not None else b"")]

    def start(self) -> MetricsServer:
        """Bind and serve in a daemon thread; returns self."""
        server_class = _ThreadingWSGIServerV6 if ":" in self.host else ThreadingWSGIServer
        self._server = make_server(self.host, self.port, self._app, server_class, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"metrics:{self.port}", daemon=True)
        self._thread.start()
        logger.info("metrics server on %s:%d (%s)", self.host, self.port, "/metrics, /healthz" if self.health else "/metrics")
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def start_worker_observability(settings: Any, db: Any) -> tuple[LoopHeartbeat, MetricsServer | None]:
    """For `run_worker`, on its event loop: tracing (OTEL_EXPORTER_OTLP_ENDPOINT), the pool gauge, and
    `/healthz` + `/metrics` on METRICS_HOST:WORKER_HEALTH_PORT (0: no server).

    Returns the heartbeat (run `heartbeat.tick(stop)` beside the loops) and the server to `stop()`, or None.
    A port that cannot be bound is logged and the worker runs without it.
    """
    from app.core import tracing

    if tracing.configure_tracing(settings, service_name="courier-hub-worker"):
        tracing.instrument_engine(db.engine)
    watch_pool(db)
    heartbeat = LoopHeartbeat(stale_seconds=settings.worker_health_stale_seconds)
    if not settings.worker_health_port:
        return heartbeat, None
    hook = on_loop(asyncio.get_running_loop(), lambda: refresh_ops_gauges(db), timeout=10.0)
    try:
        server = MetricsServer(
            settings.metrics_host, settings.worker_health_port, before_scrape=[hook], health=heartbeat.check
        ).start()
    except OSError as exc:
        logger.error("worker: cannot serve WORKER_HEALTH_PORT %s:%d: %s", settings.metrics_host, settings.worker_health_port, exc)
        return heartbeat, None
    return heartbeat, server
