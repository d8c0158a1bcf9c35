"""Wiring the request pipeline into the app: middleware, rate limits, replays, disconnects, database errors."""

from __future__ import annotations

import logging

import asyncpg
from fastapi import FastAPI, Request
from sqlalchemy.exc import DBAPIError
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.api.middleware import RequestContextMiddleware
from app.api.principal import LastUsedStamper
from app.api.ratelimit.setup import install_rate_limits
from app.core.config import Settings
from app.core.problems import (
    UNSTORABLE_TEXT_SQLSTATES,
    DatabaseUnavailable,
    InternalError,
    UnstorableValue,
    UnsupportedCharacter,
)
from app.idempotency.service import IdempotentReplay

logger = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499
"""nginx's status for "the client went away before the response": logged, never sent to anyone."""


async def _replay(_: Request, exc: IdempotentReplay) -> Response:
    return exc.response


_DISCONNECTS = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError)


async def _database_error(request: Request, exc: Exception) -> Response:
    """asyncpg's own errors (the hot path talks to the driver directly) and dropped connections.

    A NUL character is 422 `unsupported-character`; a connection the server
    dropped (no pre-ping: it fails its first statement and is invalidated) is
    503 `database-unavailable` with Retry-After; anything else is a 500.
    """
    orig = getattr(exc, "orig", exc)
    cause = getattr(orig, "__cause__", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
    if sqlstate in UNSTORABLE_TEXT_SQLSTATES:
        return UnsupportedCharacter("The request contains a NUL character (U+0000), which cannot be stored.").response()
    if isinstance(sqlstate, str) and sqlstate.startswith("22"):  # data exception: a value the client sent
        logger.info("unstorable value: %s", orig)
        return UnstorableValue("A value in the request cannot be stored (out of range or malformed).").response()
    if getattr(exc, "connection_invalidated", False) or isinstance(orig, _DISCONNECTS) or isinstance(cause, _DISCONNECTS):
        logger.warning("database connection lost: %s", exc)
        return DatabaseUnavailable("The database connection was lost; retry.", headers={"Retry-After": "1"}).response()
    logger.exception("unhandled database error", exc_info=exc)
    return InternalError("An unexpected error occurred; it has been logged.").response()


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
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_exception_handler(IdempotentReplay, _replay)  # type: ignore[arg-type]
    app.add_exception_handler(ClientDisconnect, _client_disconnected)  # type: ignore[arg-type]
    app.add_exception_handler(asyncpg.PostgresError, _database_error)
    app.add_exception_handler(asyncpg.InterfaceError, _database_error)  # a connection lost mid-request
    app.add_exception_handler(DBAPIError, _database_error)  # replaces the core handler: adds 503 on lost connections
