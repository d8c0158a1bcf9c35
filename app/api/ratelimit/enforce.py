"""Applying the limits to a request: called by `app.api.deps.get_principal`.

* Authenticated: one hit on the API key's policy ("key") and, for tenant
  keys, one on the tenant's ("tenant"); both values come from the tenant's
  plan, resolved with the key (`app.api.principal`). Platform-admin keys have one policy
  from PLATFORM_ADMIN_RATE_LIMIT.
* Failed authentication: each unknown, revoked or expired key counts
  against the client address ("auth-failures", AUTH_FAILURE_RATE_LIMIT);
  while over it, every request from that address carrying a key is refused
  with 429 before the key is even looked up, so keys cannot be guessed at
  speed. The address is the ASGI client: the TCP peer, or X-Forwarded-For
  when the peer is one of TRUSTED_PROXIES (app.api.middleware).

Over a limit: 429 problem+json `rate-limited` with `Retry-After`, naming the
policy; the state headers are added by `RateLimitHeadersMiddleware`.
"""

from __future__ import annotations

from fastapi import Request

from app.api.errors import RateLimited
from app.api.principal import Principal
from app.api.ratelimit.limiter import LimitState, Policy, PolicyState, RateLimiter
from app.api.ratelimit.middleware import STATE_KEY
from app.core.metrics import RATE_LIMIT_REJECTIONS


def _limiter(request: Request) -> RateLimiter | None:
    limiter = getattr(request.app.state, "rate_limiter", None)
    return limiter if limiter is not None and limiter.enabled else None


def _client_address(request: Request) -> str:
    return request.client.host if request.client and request.client.host else "unknown"


def _auth_policy(request: Request, limiter: RateLimiter) -> Policy:
    return Policy("auth-failures", limiter.auth_failure_limit, _client_address(request))


def _refuse(state: LimitState, policy: PolicyState) -> RateLimited:
    RATE_LIMIT_REJECTIONS.labels(policy.name).inc()
    retry_after = policy.reset_after()
    what = {"key": "this API key", "tenant": "this tenant", "auth-failures": "failed authentications from this address"}
    return RateLimited(
        f"Rate limit exceeded for {what.get(policy.name, policy.name)}: {policy.quota} requests per "
        f"{policy.window_seconds} s. Retry in {retry_after} s.",
        headers={"Retry-After": str(retry_after)},
        policy=policy.name,
        limit=policy.quota,
        window_seconds=policy.window_seconds,
        retry_after=retry_after,
    )


async def guard_auth_attempt(request: Request) -> None:
    """429 if the client address is over its failed-authentication budget (nothing counted)."""
    limiter = _limiter(request)
    if limiter is None:
        return
    state = await limiter.test(_auth_policy(request, limiter))
    if state.exceeded:
        limit_state = LimitState((state,))
        setattr(request.state, STATE_KEY, limit_state)
        raise _refuse(limit_state, state)


async def record_auth_failure(request: Request) -> None:
    """Count one failed authentication against the client address (the caller then answers 401)."""
    limiter = _limiter(request)
    if limiter is None:
        return
    setattr(request.state, STATE_KEY, await limiter.hit(_auth_policy(request, limiter)))


async def enforce_principal(request: Request, principal: Principal) -> None:
    """Count the request against the key's and the tenant's plan limits; 429 problem+json when over one."""
    limiter = _limiter(request)
    if limiter is None:
        return
    if principal.tenant_id is None:
        policies = [Policy("key", limiter.platform_admin_limit, str(principal.key_id))]
    else:
        policies = [
            Policy("key", f"{principal.requests_per_minute_per_key}/minute", str(principal.key_id)),
            Policy("tenant", f"{principal.requests_per_minute_per_tenant}/minute", str(principal.tenant_id)),
        ]
    state = await limiter.hit(*policies)
    setattr(request.state, STATE_KEY, state)
    if state.exceeded is not None:
        raise _refuse(state, state.exceeded)


async def enforce_unauthenticated(request: Request, *limits: tuple[str, str, str | None]) -> None:
    """For an endpoint without an API key: count the request against each `(name, limit, key)`; 429 when over one.

    `limit` is in limits notation ("5/hour"); a `key` of None means the client
    address (the ASGI client, see the module docstring).
    """
    limiter = _limiter(request)
    if limiter is None:
        return
    policies = [Policy(name, limit, key if key is not None else _client_address(request)) for name, limit, key in limits]
    state = await limiter.hit(*policies)
    setattr(request.state, STATE_KEY, state)
    if state.exceeded is not None:
        raise _refuse(state, state.exceeded)
