"""Request id: accepted from `X-Request-ID` (if sane) or generated, on every response and log line."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    return _request_id.get()


def bind_request_id(incoming: str | None) -> tuple[str, object]:
    """Set the request id for this context; returns (id, token for `reset_request_id`)."""
    value = incoming if incoming and _VALID.match(incoming) else uuid.uuid4().hex
    return value, _request_id.set(value)


def reset_request_id(token: object) -> None:
    """Undo `bind_request_id`."""
    _request_id.reset(token)  # type: ignore[arg-type]


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every log record ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp `record.request_id`; always True (nothing is filtered out)."""
        record.request_id = _request_id.get() or "-"
        return True


def configure_logging(level: str) -> None:
    """Root logging with the request id on every line."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
