"""Wiring the request pipeline into the app: middleware, rate limits, idempotent replays, client disconnects."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.api.docs import install_bearer_security, install_docs
from app.api.metrics import UnhandledErrorMiddleware, install_metrics, route_template
from app.api.middleware import RequestContextMiddleware
from app.api.principal import LastUsedStamper
from app.api.ratelimit.setup import install_rate_limits
from app.core.config import Settings
from app.core.metrics import IDEMPOTENT_REPLAYS
from app.idempotency.service import IdempotentReplay

logger = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499
"""nginx's status for "the client went away before the response": logged, never sent to anyone."""


async def _replay(request: Request, exc: IdempotentReplay) -> Response:
    IDEMPOTENT_REPLAYS.labels(route_template(request.scope)).inc()
    return exc.response


async def _client_disconnected(request: Request, _: ClientDisconnect) -> Response:
    logger.info("client disconnected before the request body was read: %s %s", request.method, request.url.path)
    return Response(status_code=CLIENT_CLOSED_REQUEST)


def install_pipeline(app: FastAPI, settings: Settings) -> None:
    """Add the pipeline's middleware and handlers; call once in `create_app`, after the problem handlers.

    `app.state.settings` (what `AppSettings` reads) and `app.state.key_stamper` are set here.
    """
    app.state.settings = settings
    app.state.key_stamper = LastUsedStamper()
    install_rate_limits(app, settings)  # before RequestContextMiddleware: that one stays outermost
    app.add_middleware(UnhandledErrorMiddleware)  # a 500 problem inside the request id (app.api.metrics)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        large_bodies={"/v1/label-batches": settings.max_batch_body_bytes},
        trusted_proxies=settings.trusted_proxy_networks,
    )
    install_docs(app)  # offline /docs and /redoc (create_app passes docs_url=None, redoc_url=None to FastAPI)
    install_bearer_security(app)
    install_metrics(app, settings)  # HTTP metrics (outermost middleware), GET /metrics, tracing (app.api.metrics)
    app.add_exception_handler(IdempotentReplay, _replay)  # type: ignore[arg-type]
    app.add_exception_handler(ClientDisconnect, _client_disconnected)  # type: ignore[arg-type]
