"""Pure-ASGI middleware that puts the request's rate-limit state on its response, whatever the status."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.ratelimit.headers import rate_limit_headers

STATE_KEY = "rate_limit"
"""`request.state.rate_limit` (a LimitState), set by `app.api.ratelimit.enforce`."""


class RateLimitHeadersMiddleware:
    """Adds `RateLimit-Policy`, `RateLimit` and `X-RateLimit-*` (and `Retry-After` on 429) to every limited response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                limit_state = state.get(STATE_KEY)
                if limit_state is not None:
                    out = MutableHeaders(scope=message)
                    for name, value in rate_limit_headers(limit_state).items():
                        if name not in out:
                            out[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
