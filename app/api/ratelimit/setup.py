"""Wiring rate limits into the app: the limiter on `app.state` and the headers middleware."""

from __future__ import annotations

from fastapi import FastAPI

from app.api.ratelimit.limiter import RateLimiter
from app.api.ratelimit.middleware import RateLimitHeadersMiddleware
from app.core.config import Settings


def install_rate_limits(app: FastAPI, settings: Settings) -> None:
    """Set `app.state.rate_limiter` and add the middleware that puts limit state on every limited response.

    The limits are applied by `app.api.deps.get_principal` (see `app.api.ratelimit.enforce`).
    """
    app.state.rate_limiter = RateLimiter(settings)
    app.add_middleware(RateLimitHeadersMiddleware)
