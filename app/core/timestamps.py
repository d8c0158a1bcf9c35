"""Date-times read from requests, normalized to UTC and kept within what Python and the database can hold.

`0001-01-01T00:00:00+14:00` is valid ISO 8601, but its UTC instant lies before year 1 (as
`9999-12-31T23:59:59-14:00`'s lies after year 9999): converting it raises OverflowError deep in
the driver. These types refuse it while validating, as a 422 `validation-error` naming the field.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def in_utc(value: datetime) -> datetime:
    """`value` in UTC (naive values are read as UTC); ValueError when that instant is outside years 1-9999."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC (years 1-9999)") from None


UtcDatetime = Annotated[datetime, AfterValidator(in_utc)]
"""An ISO 8601 date-time, with or without offset (none: UTC), as an aware UTC datetime."""

AwareUtcDatetime = Annotated[AwareDatetime, AfterValidator(in_utc)]
"""An ISO 8601 date-time that must carry an offset, as an aware UTC datetime."""
