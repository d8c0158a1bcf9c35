"""The request pipeline's problems: 401 (no or bad API key), 403 (wrong role), 429 (rate limited).

`PIPELINE_PROBLEMS` is what any authenticated route may answer besides its own
errors; routers list it in `problem_responses(PIPELINE_PROBLEMS, ...)`.
"""

from __future__ import annotations

from app.core.problems import Problem, ValidationFailed


class Unauthorized(Problem):
    """No API key was sent (`Authorization: Bearer <key>`), or it is invalid, revoked or expired."""

    status = 401
    type_ = "unauthorized"
    title = "Unauthorized"


class Forbidden(Problem):
    """The API key is valid but its role may not perform this operation; member `role` is the key's role."""

    status = 403
    type_ = "forbidden"
    title = "Forbidden"


class TenantSuspended(Problem):
    """The API key's tenant is suspended by a platform admin: every key of it is refused until it is reactivated."""

    status = 403
    type_ = "tenant-suspended"
    title = "Tenant suspended"


class SupportAccessReadOnly(Problem):
    """Support access (a platform-admin key with `X-Tenant-ID`) only reads: GET and HEAD; writes are refused."""

    status = 403
    type_ = "support-access-read-only"
    title = "Support access is read-only"


class RateLimited(Problem):
    """A rate limit (per key, per tenant or failed authentications per address) is used up; see `Retry-After`.

    Members: `policy`, `limit`, `window_seconds`, `retry_after` (seconds).
    """

    status = 429
    type_ = "rate-limited"
    title = "Too Many Requests"


class UnknownParameter(Problem):
    """A GET request names a query parameter the endpoint does not know (a list filter is never silently ignored);
    members `unknown` (the names sent) and `known` (the endpoint's parameters)."""

    status = 400
    type_ = "unknown-parameter"
    title = "Unknown query parameter"


class RepeatedParameter(Problem):
    """A GET request repeats a query parameter that takes one value (`?status=a&status=b`): which one was meant is
    not guessed; member `repeated` (the names). Parameters that take a list (e.g. `group_by`) may repeat."""

    status = 400
    type_ = "repeated-parameter"
    title = "Repeated query parameter"


PIPELINE_PROBLEMS: tuple[type[Problem], ...] = (
    Unauthorized, Forbidden, TenantSuspended, RateLimited, ValidationFailed, UnknownParameter, RepeatedParameter
)
"""What every authenticated route may answer before (or besides) its own problems."""

