"""UPS Locator opening hours as carrier-neutral OpeningHours (pure functions).

Document: `carrier-samples/ups/openapi-locator.yaml`,
`DropLocation_OperatingHours` / `OperatingHours_StandardHours` /
`StandardHours_DayOfWeek` and `DropLocation.StandardHoursOfOperation`:

* `StandardHours[]` {HoursType, DayOfWeek[]}: HoursType 10 = Regular
  Operating Hours (11 will call, 12 same-day will call, 14 customer pickup,
  50 drop off, 51 prep); `Day` 1 = Sunday, 2 = Monday .. 7 = Saturday;
  `OpenHours`/`CloseHours` military time without leading zero ("930",
  "1700"; "for midnight the time will be returned as 0"), one string, or a
  list of them for a day with a break (UPS-API/api-documentation issue
  #191); `ClosedIndicator` present = closed that day; `Open24HoursIndicator`
  present = open around the clock.
* `StandardHoursOfOperation`: the same as text, e.g.
  "Mon-Fri: 9:00am-8:00pm; Sat: 9:00am-5:00pm; Sun: Closed" or
  "Mon-Fri: 8:00am-10:00am, 4:30pm-7:30pm; Sat, Sun: Closed" (the Locator
  sample reply of UPS-API/java-api-examples); read when `OperatingHours` is absent.

Times are the location's wall clock, "HH:MM"; a closing time of midnight is "24:00".
"""

from __future__ import annotations

import re
from typing import Any

from app.carriers.fields import text_of
from app.carriers.locations import WEEKDAYS, OpeningHours, Weekday
from app.carriers.ups.schemas import as_list

REGULAR_HOURS = "10"
"""`HoursType` of the regular operating hours (used first; else customer pickup 14, else the first listed)."""
CUSTOMER_PICKUP_HOURS = "14"
UPS_DAYS: dict[str, Weekday] = {
    "1": "sunday", "2": "monday", "3": "tuesday", "4": "wednesday", "5": "thursday", "6": "friday", "7": "saturday",
}  # fmt: skip
"""`DayOfWeek.Day` -> weekday (1 = Sunday)."""
_DAY_NAMES: dict[str, Weekday] = {
    "mon": "monday", "tue": "tuesday", "tues": "tuesday", "wed": "wednesday", "thu": "thursday", "th": "thursday",
    "thur": "thursday", "thurs": "thursday", "fri": "friday", "sat": "saturday", "sun": "sunday",
}  # fmt: skip
_TEXT_TIME = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?", re.IGNORECASE)
_TEXT_RANGE = re.compile(
    r"(\d{1,2}(?::\d{2})?\s*[ap]\.?m\.?)\s*[-–]\s*(\d{1,2}(?::\d{2})?\s*[ap]\.?m\.?)", re.IGNORECASE
)


def military_time(value: Any, *, closing: bool) -> str | None:
    """A UPS HHMM time ("930", "0930", "1700", "0", "2400") as "HH:MM"; midnight closing is "24:00"; None if unreadable."""
    text = text_of(value)
    if text is None or not text.isdigit() or len(text) > 4:
        return None
    number = int(text)
    hours, minutes = divmod(number, 100)
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        return None
    if closing and number == 0:
        hours = 24
    if not closing and hours == 24:
        hours = 0
    return f"{hours:02d}:{minutes:02d}"


def _present(day: dict[str, Any], key: str) -> bool:
    return key in day and str(day[key]).strip().casefold() not in {"false", "n", "0"}


def _day_hours(day: dict[str, Any]) -> list[OpeningHours]:
    weekday = UPS_DAYS.get(text_of(day.get("Day")) or "")
    if weekday is None or _present(day, "ClosedIndicator"):
        return []
    if _present(day, "Open24HoursIndicator"):
        return [OpeningHours(weekday, "00:00", "24:00")]
    hours: list[OpeningHours] = []
    for opens, closes in zip(as_list(day.get("OpenHours")), as_list(day.get("CloseHours")), strict=False):
        start, end = military_time(opens, closing=False), military_time(closes, closing=True)
        if start and end:
            hours.append(OpeningHours(weekday, start, end))
    return hours


def operating_hours(value: Any) -> list[OpeningHours]:
    """`OperatingHours` as OpeningHours, Monday first; [] when UPS gives none.

    Of the `StandardHours` blocks, HoursType 10 (regular) is read, else 14
    (customer pickup), else the first one.
    """
    blocks = [b for b in as_list(value.get("StandardHours")) if isinstance(b, dict)] if isinstance(value, dict) else []
    if not blocks:
        return []
    by_type = {text_of(b.get("HoursType")): b for b in blocks}
    block = by_type.get(REGULAR_HOURS) or by_type.get(CUSTOMER_PICKUP_HOURS) or blocks[0]
    hours = [h for day in as_list(block.get("DayOfWeek")) if isinstance(day, dict) for h in _day_hours(day)]
    return sorted(hours, key=lambda h: WEEKDAYS.index(h.day))


def _text_time(value: str, *, closing: bool) -> str | None:
    match = _TEXT_TIME.fullmatch(value.strip())
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if not 1 <= hours <= 12 or minutes > 59:
        return None
    hours = hours % 12 + (12 if match.group(3).lower() == "p" else 0)
    if closing and hours == 0 and minutes == 0:
        hours = 24
    return f"{hours:02d}:{minutes:02d}"


def _text_days(value: str) -> list[Weekday]:
    days: list[Weekday] = []
    for part in re.split(r"\s*,\s*", value.strip()):
        ends = [_DAY_NAMES.get(p.strip().casefold().rstrip(".")) for p in re.split(r"\s*[-–]\s*", part)]
        if len(ends) == 1 and ends[0]:
            days.append(ends[0])
        elif len(ends) == 2 and ends[0] and ends[1]:
            first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[1])
            span = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
            days += [WEEKDAYS[i] for i in span]
    return days


def standard_hours_text(text: str) -> list[OpeningHours]:
    """`StandardHoursOfOperation` text as OpeningHours, Monday first ("Closed" days and unreadable parts left out)."""
    hours: list[OpeningHours] = []
    for segment in text.split(";"):
        days, _, times = segment.partition(":")
        weekdays = _text_days(days)
        if re.search(r"24\s*h", times, re.IGNORECASE):
            hours += [OpeningHours(day, "00:00", "24:00") for day in weekdays]
            continue
        for start, end in _TEXT_RANGE.findall(times):
            opens, closes = _text_time(start, closing=False), _text_time(end, closing=True)
            if opens and closes:
                hours += [OpeningHours(day, opens, closes) for day in weekdays]
    return sorted(hours, key=lambda h: WEEKDAYS.index(h.day))
