"""HTTP metrics and `GET /metrics` (Prometheus text format, the official prometheus-client).

* `HttpMetricsMiddleware` counts every answered request by method, ROUTE
  TEMPLATE (`/v1/labels/{label_id}`, never the raw path: label values stay a
  bounded set) and status, and observes its latency in seconds.
* `UnhandledErrorMiddleware` turns an exception no handler took into the 500
  problem while the request id is still bound: the error is logged with its
  traceback and request id, the body carries `instance`, the response
  `X-Request-ID` (Starlette's own last-resort handler runs outside every
  middleware, where neither is known).
* `install_metrics` serves `GET /metrics` when METRICS_ENABLED=true: on the
  API port, or on METRICS_PORT (a separate small server, started by
  `start_metrics_port` in the app's lifespan). No API key: scrape it on the
  private network only, never expose it publicly.
"""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.metrics import HTTP_LATENCY, HTTP_REQUESTS
from app.core.metrics_server import MetricsServer, on_loop, refresh_ops_gauges, watch_pool
from app.core.problems import InternalError
from app.core import tracing

logger = logging.getLogger(__name__)

UNMATCHED_ROUTE = "<unmatched>"
"""The `route` label of a request no route matched (a 404 for an unknown path)."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/v1/labels/{label_id}`), or `<unmatched>`; read after routing ran."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED_ROUTE


class HttpMetricsMiddleware:
    """Pure ASGI: `courier_hub_http_requests_total{method,route,status}` and `..._duration_seconds{method,route}`.

    Latency runs from the request's arrival to the end of its response body.
    Methods outside the standard set are counted as `OTHER`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            method = scope.get("method", "GET")
            method = method if method in _METHODS else "OTHER"
            route = route_template(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


class UnhandledErrorMiddleware:
    """Pure ASGI: an unhandled exception becomes the 500 `internal-error` problem inside the request's context.

    Logged once (`logger.exception`, with the request id and tenant of the
    log context). If the response had already started, the exception is
    re-raised (the server closes the connection).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def send_tracking(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            logger.exception("unhandled error: %s %s", scope.get("method"), scope.get("path"))
            if response_started:
                raise
            response = InternalError("An unexpected error occurred; it has been logged.").response()
            await response(scope, receive, send)


async def metrics_endpoint(request: Request) -> Response:
    """`GET /metrics`: every metric of this process in Prometheus text format (backlog gauges read now)."""
    db = getattr(request.app.state, "db", None)
    if db is not None:
        await refresh_ops_gauges(db)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, settings: Settings) -> None:
    """Add `HttpMetricsMiddleware` (outermost: every status counts, 413s included); when METRICS_ENABLED and
    no METRICS_PORT is set, the `GET /metrics` route on the API port (not in the OpenAPI document); and, with
    OTEL_EXPORTER_OTLP_ENDPOINT, tracing (app.core.tracing: raises TracingUnavailable without its packages).
    """
    app.add_middleware(HttpMetricsMiddleware)
    if settings.metrics_enabled and settings.metrics_port is None:
        app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    if tracing.configure_tracing(settings, service_name="courier-hub-api"):
        tracing.instrument_app(app)


def start_observability(app: FastAPI, settings: Settings) -> MetricsServer | None:
    """In the app's lifespan, once `app.state.db` is set: DB_POOL_IN_USE reads its pool, tracing covers its
    engine, and with METRICS_ENABLED and METRICS_PORT /metrics is served on METRICS_HOST:METRICS_PORT.

    Returns that server (`stop()` it at shutdown), or None. A port that cannot be bound (e.g. under
    `serve --workers 2`, where one process has it) is logged, and the API runs without it.
    """
    db = app.state.db
    watch_pool(db)
    tracing.instrument_engine(db.engine)
    if not settings.metrics_enabled or settings.metrics_port is None:
        return None
    hook = on_loop(asyncio.get_running_loop(), lambda: refresh_ops_gauges(db), timeout=10.0)
    try:
        return MetricsServer(settings.metrics_host, settings.metrics_port, before_scrape=[hook]).start()
    except OSError as exc:
        logger.error("metrics: cannot serve METRICS_PORT %s:%d: %s", settings.metrics_host, settings.metrics_port, exc)
        return None
