"""The `from` / `to` query parameters of the analytics endpoints: a UTC period, validated once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Query

from app.analytics.errors import InvalidPeriod
from app.core.db.base import utcnow
from app.core.timestamps import in_utc

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366

FromParam = Annotated[
    datetime | None,
    Query(alias="from", description="Start (inclusive), ISO 8601 date or date-time; UTC when no offset. Default: `to` - 30 days."),
]
ToParam = Annotated[datetime | None, Query(alias="to", description="End (exclusive), ISO 8601; default now.")]


def _utc(value: datetime, name: str) -> datetime:
    """`value` in UTC (naive: already UTC); InvalidPeriod 422 when that falls outside years 1-9999."""
    try:
        return in_utc(value)
    except ValueError as exc:
        raise InvalidPeriod(f"`{name}` {exc}.") from None


def resolve(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """(start, end) in UTC with the defaults applied.

    Raises InvalidPeriod (422) unless start < end, the span is at most 3 years and both,
    converted to UTC (and `from`'s default, `to` - 30 days), lie within years 1-9999.
    """
    end = _utc(end, "to") if end else utcnow()
    if start:
        start = _utc(start, "from")
    else:
        try:
            start = end - timedelta(days=DEFAULT_DAYS)
        except OverflowError:
            raise InvalidPeriod("`to` is too early for the default period (`to` - 30 days): give `from`.") from None
    if start >= end:
        raise InvalidPeriod("`from` must be before `to`.")
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidPeriod(f"The period may span at most {MAX_DAYS} days.")
    return start, end
