"""The process's rate limiter: slowapi's `Limiter` (on `limits`) with limits chosen per request.

slowapi builds the storage (memory, or Redis when REDIS_URL is set so every
API process shares the counts), the strategy (moving window by default,
sliding-window counter on request) and the key prefix. The limits
themselves are dynamic: the caller passes `Policy`s built from the
principal and its tenant's plan, because the plan is only known after the
API key is resolved, not when slowapi's decorators or middleware run.

Each `hit` is atomic in the storage, so a limit holds exactly across
processes. The `limits` storages are synchronous; with Redis the calls run
in a worker thread so the event loop never waits on the network.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import anyio.to_thread
from limits import RateLimitItem, parse
from slowapi import Limiter

from app.core.config import Settings


@dataclass(frozen=True)
class Policy:
    """One limit to apply: `name` ("key", "tenant", "auth-failures"), `limit` in limits notation ("60/minute"), `key`."""

    name: str
    limit: str
    key: str


@dataclass(frozen=True)
class PolicyState:
    """A policy after a hit or a test: quota per window (seconds), remaining, and reset time (epoch seconds)."""

    name: str
    quota: int
    window_seconds: int
    remaining: int
    reset_at: float
    exceeded: bool

    def reset_after(self, now: float | None = None) -> int:
        """Whole seconds until the window frees capacity (at least 1 when exceeded)."""
        seconds = max(0, math.ceil(self.reset_at - (now if now is not None else time.time())))
        return max(1, seconds) if self.exceeded else seconds


@dataclass(frozen=True)
class LimitState:
    """Every policy applied to a request; `exceeded` is the first one over its limit, if any."""

    policies: tuple[PolicyState, ...]

    @property
    def exceeded(self) -> PolicyState | None:
        """The policy that refused the request, or None."""
        return next((p for p in self.policies if p.exceeded), None)


def _item(limit: str) -> RateLimitItem:
    return parse(limit)


class RateLimiter:
    """Wraps one slowapi `Limiter`; `hit` and `test` are async."""

    def __init__(self, settings: Settings) -> None:
        storage_uri = settings.redis_url or "memory://"
        self.enabled = settings.rate_limit_enabled
        self.storage_uri = storage_uri
        self.slowapi = Limiter(
            key_func=lambda: "",  # keys come from the principal (see Policy), not from the request
            strategy=settings.rate_limit_strategy,
            storage_uri=storage_uri,
            key_prefix=settings.rate_limit_key_prefix,
            headers_enabled=True,
            enabled=settings.rate_limit_enabled,
        )
        self._prefix = settings.rate_limit_key_prefix
        self.auth_failure_limit = settings.auth_failure_rate_limit
        self.platform_admin_limit = settings.platform_admin_rate_limit
        self._in_thread = not storage_uri.startswith("memory://")

    async def _run(self, fn, *args):  # noqa: ANN001, ANN202 - thin dispatcher
        if self._in_thread:
            return await anyio.to_thread.run_sync(fn, *args)
        return fn(*args)

    def _ids(self, policy: Policy) -> tuple[str, ...]:
        return (self._prefix, policy.name, policy.key) if self._prefix else (policy.name, policy.key)

    def _state(self, policy: Policy, item: RateLimitItem, allowed: bool) -> PolicyState:
        stats = self.slowapi.limiter.get_window_stats(item, *self._ids(policy))
        return PolicyState(
            name=policy.name,
            quota=item.amount,
            window_seconds=item.get_expiry(),
            remaining=max(0, stats.remaining),
            reset_at=stats.reset_time,
            exceeded=not allowed,
        )

    async def hit(self, *policies: Policy) -> LimitState:
        """Count one request against each policy in order; stops at the first that is over its limit."""
        states: list[PolicyState] = []
        for policy in policies:
            item = _item(policy.limit)
            allowed = await self._run(self._hit_sync, item, policy)
            states.append(await self._run(self._state, policy, item, allowed))
            if not allowed:
                break
        return LimitState(tuple(states))

    def _hit_sync(self, item: RateLimitItem, policy: Policy) -> bool:
        return self.slowapi.limiter.hit(item, *self._ids(policy))

    async def test(self, policy: Policy) -> PolicyState:
        """The policy's state without counting a request (`exceeded` if a hit now would be refused)."""
        item = _item(policy.limit)
        allowed = await self._run(self.slowapi.limiter.test, item, *self._ids(policy))
        return await self._run(self._state, policy, item, allowed)

    def reset(self) -> None:
        """Forget every count (memory storage; with Redis only keys under the storage's prefix)."""
        self.slowapi.reset()
