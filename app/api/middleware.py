"""Pure-ASGI middleware: trusted proxies, request id, body-size cap, security headers.

Pure ASGI (not BaseHTTPMiddleware) so streaming bodies are counted as they
arrive and nothing is buffered twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.core.problems import BodyTooLarge
from app.core.requestid import bind_request_id, reset_request_id

access_log = logging.getLogger("courier_hub.access")

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    # JSON needs nothing: forbid everything (pages such as /docs set their own policy).
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cross-origin-opener-policy": "same-origin",
}
"""Added to every response that does not set the header itself."""

HSTS = "max-age=31536000; includeSubDomains"
"""Strict-Transport-Security, sent only on responses served over https (the trusted scheme)."""


class _BodyTooLarge(HTTPException):
    """Raised while reading a body past the cap; an HTTPException so FastAPI's body parsing re-raises it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds {limit} bytes.")


class RequestContextMiddleware:
    """Believes X-Forwarded-* from trusted proxies only, binds the request id, caps the body at
    `max_body_bytes` (413), adds security headers.

    `large_bodies` maps exact paths to a larger cap (a batch of 1,000 labels).
    `trusted_proxies` (TRUSTED_PROXIES: addresses/CIDRs): when the TCP peer is one of them,
    X-Forwarded-For sets the ASGI client (the address the failed-auth limit and the logs see)
    and X-Forwarded-Proto the scheme (https => HSTS), by uvicorn's ProxyHeadersMiddleware,
    before anything else runs. Empty: forwarded headers are ignored.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        large_bodies: Mapping[str, int] | None = None,
        trusted_proxies: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.large_bodies = dict(large_bodies or {})
        self._entry: ASGIApp = (
            ProxyHeadersMiddleware(self._handle, trusted_hosts=list(trusted_proxies))  # type: ignore[arg-type]
            if trusted_proxies
            else self._handle
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self._entry(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id, token = bind_request_id(headers.get("x-request-id"))
        response_started = False
        status_code = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started, status_code
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                out = MutableHeaders(scope=message)
                out["x-request-id"] = request_id
                for name, value in SECURITY_HEADERS.items():
                    out.setdefault(name, value)
                if scope.get("scheme") == "https":
                    out.setdefault("strict-transport-security", HSTS)
            await send(message)

        limit = self.large_bodies.get(scope.get("path", ""), self.max_body_bytes)
        try:
            declared = headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                await self._too_large(scope, receive, send_with_headers, limit)
                return

            received = 0

            async def counting_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise _BodyTooLarge(limit)
                return message

            try:
                await self.app(scope, counting_receive, send_with_headers)
            except _BodyTooLarge:
                if response_started:
                    raise
                await self._too_large(scope, receive, send_with_headers, limit)
        finally:
            # One access line per request, inside the request-id context (uvicorn's own
            # access log runs outside it and is switched off by `courier-hub serve`).
            client = scope.get("client")
            client_address = client[0] if client else "-"  # the TCP peer, or X-Forwarded-For from a trusted proxy
            elapsed_ms = (time.perf_counter() - started) * 1000
            access_log.info(
                "%s %s %s %.1fms client=%s",
                scope.get("method"),
                scope.get("path"),
                status_code,
                elapsed_ms,
                client_address,
                extra={"client": client_address, "status": status_code, "duration_ms": round(elapsed_ms, 1)},
            )
            reset_request_id(token)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = BodyTooLarge(f"The request body exceeds {limit} bytes.").response()
        await response(scope, receive, send)
