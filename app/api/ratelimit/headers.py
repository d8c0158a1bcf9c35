"""Rate-limit response headers: the IETF draft fields and the common X-RateLimit-* trio.

For each request that was rate limited (every authenticated request, and
every failed authentication) the response says:

* `RateLimit-Policy: "key";q=60;w=60, "tenant";q=120;w=60` - every policy
  applied: quota `q` requests per window `w` seconds
  (draft-ietf-httpapi-ratelimit-headers, structured-field list);
* `RateLimit: "key";r=59;t=60, "tenant";r=119;t=60` - per policy, requests
  remaining `r` and seconds `t` until the window frees capacity;
* `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` - the
  tightest policy (fewest remaining): its quota, what remains, and when it
  resets as Unix epoch seconds (the GitHub/slowapi convention);
* on a 429, `Retry-After` in seconds.
"""

from __future__ import annotations

import math
import time

from app.api.ratelimit.limiter import LimitState


def rate_limit_headers(state: LimitState, now: float | None = None) -> dict[str, str]:
    """The headers describing `state` (empty if no policy applied)."""
    if not state.policies:
        return {}
    now = time.time() if now is None else now
    tightest = state.exceeded or min(state.policies, key=lambda p: (p.remaining, -p.reset_at))
    headers = {
        "RateLimit-Policy": ", ".join(f'"{p.name}";q={p.quota};w={p.window_seconds}' for p in state.policies),
        "RateLimit": ", ".join(f'"{p.name}";r={p.remaining};t={p.reset_after(now)}' for p in state.policies),
        "X-RateLimit-Limit": str(tightest.quota),
        "X-RateLimit-Remaining": str(tightest.remaining),
        "X-RateLimit-Reset": str(math.ceil(max(tightest.reset_at, now))),
    }
    if state.exceeded is not None:
        headers["Retry-After"] = str(state.exceeded.reset_after(now))
    return headers
