"""Request id and log context: accepted from `X-Request-ID` (if sane) or generated, on every response and log line.

A request's log context holds its id and, once the API key is resolved
(`bind_principal`, called by `app.api.deps.get_principal`), the tenant id and
the key's readable prefix. `LogContextFilter` stamps them on every record;
`configure_logging` writes them as text (default) or, with LOG_FORMAT=json,
as one JSON object per line (python-json-logger).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal


@dataclass
class LogContext:
    """What is known about the unit of work being done: request id, tenant id and API-key prefix (None: unknown).

    Mutable on purpose: the context object is bound once per request by the
    outermost middleware, and dependencies that run in copied contexts
    (threads, task groups) still fill in the same object.
    """

    request_id: str | None = None
    tenant_id: str | None = None
    key_prefix: str | None = None


_context: ContextVar[LogContext | None] = ContextVar("log_context", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LOG_FIELDS = ("request_id", "tenant_id", "key_prefix")
"""The context attributes every log record carries ("-" when unknown)."""


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    context = _context.get()
    return context.request_id if context is not None else None


def current_log_context() -> LogContext | None:
    """The log context of this unit of work, or None outside any."""
    return _context.get()


def bind_request_id(incoming: str | None) -> tuple[str, object]:
    """Start a new log context with this request id; returns (id, token for `reset_request_id`).

    `incoming` (an `X-Request-ID`) is kept if it is 1-128 of `A-Za-z0-9._:-`, else a new uuid4 hex is used.
    """
    value = incoming if incoming and _VALID.match(incoming) else uuid.uuid4().hex
    return value, _context.set(LogContext(request_id=value))


def reset_request_id(token: object) -> None:
    """Undo `bind_request_id` (the previous context, usually none, is back)."""
    _context.reset(token)  # type: ignore[arg-type]


def bind_principal(tenant_id: uuid.UUID | str | None, key_prefix: str | None) -> None:
    """Record the authenticated tenant and API-key prefix in the current log context.

    Inside a request this fills the request's context (the access line gets
    them too); outside one (the worker) it starts a context of its own.
    """
    context = _context.get()
    if context is None:
        context = LogContext()
        _context.set(context)
    context.tenant_id = str(tenant_id) if tenant_id is not None else None
    context.key_prefix = key_prefix


class LogContextFilter(logging.Filter):
    """Adds `request_id`, `tenant_id` and `key_prefix` to every log record ("-" where unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record; always True (nothing is filtered out). Values already on the record are kept."""
        context = _context.get()
        for name in LOG_FIELDS:
            if getattr(record, name, None) is None:
                value = getattr(context, name, None) if context is not None else None
                setattr(record, name, value or "-")
        return True


RequestIdLogFilter = LogContextFilter
"""The former name (it stamped only `request_id`)."""

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def json_formatter() -> logging.Formatter:
    """One JSON object per line: timestamp (ISO 8601, UTC), level, logger, message, the context fields,
    `exc_info` (the traceback as text) when there is one, and any `extra=` fields of the call."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s %(request_id)s %(tenant_id)s %(key_prefix)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
    )


def configure_logging(level: str, fmt: Literal["text", "json"] | None = None) -> None:
    """Root logging to stderr with the log context on every line; `fmt` ("text" or "json") defaults to LOG_FORMAT."""
    if fmt is None:
        from app.core.config import get_settings

        fmt = get_settings().log_format
    handler = logging.StreamHandler()
    handler.addFilter(LogContextFilter())
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
