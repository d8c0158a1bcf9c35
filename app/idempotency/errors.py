"""Problems of `Idempotency-Key` handling (app/idempotency/service.py)."""

from __future__ import annotations

from app.core.problems import Problem


class IdempotencyKeyMissing(Problem):
    """This POST creates something and needs an `Idempotency-Key` header (e.g. a UUID)."""

    status = 400
    type_ = "idempotency-key-missing"
    title = "Idempotency-Key missing"


class IdempotencyKeyInvalid(Problem):
    """The `Idempotency-Key` is not 1-255 printable ASCII characters without spaces."""

    status = 400
    type_ = "idempotency-key-invalid"
    title = "Idempotency-Key invalid"


class IdempotencyKeyReused(Problem):
    """The `Idempotency-Key` was already used with a different request (method, path, body or parameters)."""

    status = 422
    type_ = "idempotency-key-reused"
    title = "Idempotency-Key reused"


class IdempotencyKeyInFlight(Problem):
    """A request with this `Idempotency-Key` is still being processed; retry after `Retry-After` seconds."""

    status = 409
    type_ = "idempotency-key-in-flight"
    title = "Idempotency-Key in flight"


IDEMPOTENCY_PROBLEMS: tuple[type[Problem], ...] = (
    IdempotencyKeyMissing,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdempotencyKeyInFlight,
)
"""What an idempotent POST may answer about its `Idempotency-Key`."""
