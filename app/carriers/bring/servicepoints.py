"""Bring Pickup Point API: pure functions that build the locator request and read its reply.

Carrier documents followed (copies in `carrier-samples/bring/`):

* `pickup-point-api.raml` (bring/developer-site `content/api/pickup-point/api.raml`
  @5c73a3ea): `GET {base}/pickuppoint/api/pickuppoint/{countryCode}/postalCode/{postalCode}.json`
  for countryCode NO, DK, SE, FI, with `street` and `streetNumber` ("Use this
  param to get more accurate result") and `numberOfResponses` (default 10).
  The API has no city parameter (`searchForText` filters names/addresses,
  it does not locate), so `query.city` is not sent.
* Replies `{pickupPoint: [...]}` (`pickup-point-by-postal-code.json`,
  `pickup-point-filter-address-dk.json`, `pickup-point-by-id.json`): `id`
  (what the Booking API takes as `pickupPoint.id`), `name`, the
  visiting address (else the postal one), `latitude`/`longitude`,
  `distanceInKm` (a string, "" without origin), `type` (point-type code,
  developer.bring.com/api/pickup-point "Pickup point types", `units.PICKUP_POINT_TYPES`),
  structured `openingHours [{day, opening, closing}]` (HHmm) where given,
  else the `openingHoursEnglish` text ("Mon - Fri: 0800-2200, Sat: 0800-2000").
  Points come sorted by driving time (API page); that order is kept.
  Times are the point's local wall-clock time.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from app.carriers.bring.schemas import PickupOpeningHours, PickupPoint, PickupPointReply
from app.carriers.bring.units import pickup_point_type
from app.carriers.errors import CarrierBadResponse, CarrierRejected
from app.carriers.fields import text_of
from app.carriers.http import GetRequest
from app.carriers.locations import WEEKDAYS, OpeningHours, ServicePoint, ServicePointAddress, ServicePointQuery, Weekday

CARRIER = "bring"
PICKUP_POINT_PATH = "/pickuppoint/api/pickuppoint"
COUNTRIES = ("NO", "DK", "SE", "FI")
"""The RAML's `countryCode` enum."""

_DAY_ABBREVIATIONS: dict[str, Weekday] = {day[:3]: day for day in WEEKDAYS}
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?"
_DAY_RANGE = re.compile(rf"\b{_DAY}(?:\s*(?:-|–|to)\s*{_DAY})?\s*:", re.IGNORECASE)
_TIME_RANGE = re.compile(r"(\d{1,2})[:.]?(\d{2})\s*(?:-|–)\s*(\d{1,2})[:.]?(\d{2})")
_STREET_NUMBER = re.compile(r"^(?P<street>.*?\D)\s*(?P<number>\d+\s*[A-Za-z]?)(?:\s*,.*)?$")


def split_street(street: str) -> tuple[str, str | None]:
    """`(street, streetNumber)` of a Nordic street line: "Smallegade 3" -> ("Smallegade", "3").

    The number is the first digits after the name (with a letter: "12 B");
    what follows a comma (floor, door) is dropped. A line with no number is
    returned whole.
    """
    text = " ".join(street.split())
    match = _STREET_NUMBER.match(text)
    if not match or not match.group("street").strip(" ,"):
        return text, None
    return match.group("street").strip(" ,"), "".join(match.group("number").split())


def build_pickup_point_request(base_url: str, query: ServicePointQuery) -> GetRequest:
    """The locator GET for `query`: postal code (spaces removed) in the path, street/streetNumber, numberOfResponses.

    Raises CarrierRejected (no call) for a country outside NO, DK, SE, FI.
    """
    if query.country not in COUNTRIES:
        raise CarrierRejected(CARRIER, f"Bring's Pickup Point API covers {', '.join(COUNTRIES)}, not {query.country}")
    postal_code = "".join(query.postal_code.split())
    params = {"numberOfResponses": str(query.limit)}
    if query.street:
        street, number = split_street(query.street)
        params["street"] = street
        if number:
            params["streetNumber"] = number
    url = f"{base_url}{PICKUP_POINT_PATH}/{query.country}/postalCode/{quote(postal_code, safe='')}.json"
    return GetRequest(url=url, params=params)


def _hhmm(text: str | None) -> str | None:
    """"0700" / "7:00" / "07.00" as "07:00"; None when it is no time of day ("2400" is kept as "24:00")."""
    digits = "".join(ch for ch in (text or "") if ch.isdigit())
    if len(digits) not in (3, 4):
        return None
    hours, minutes = int(digits[:-2]), int(digits[-2:])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        return None
    return f"{hours:02d}:{minutes:02d}"


def _structured_hours(entries: list[PickupOpeningHours]) -> list[OpeningHours]:
    hours: list[OpeningHours] = []
    for entry in entries:
        day = (entry.day or "").strip().lower()
        opens, closes = _hhmm(entry.opening), _hhmm(entry.closing)
        if day in WEEKDAYS and opens and closes:
            hours.append(OpeningHours(day=day, opens=opens, closes=closes))  # type: ignore[arg-type]
    return hours


def _days(first: str, last: str | None) -> list[Weekday]:
    start = WEEKDAYS.index(_DAY_ABBREVIATIONS[first.lower()[:3]])
    end = WEEKDAYS.index(_DAY_ABBREVIATIONS[last.lower()[:3]]) if last else start
    if end < start:  # "Sat - Mon" wraps over the week's end
        return [*WEEKDAYS[start:], *WEEKDAYS[: end + 1]]
    return list(WEEKDAYS[start : end + 1])


def parse_opening_text(text: str | None) -> list[OpeningHours]:
    """Opening intervals from Bring's English opening-hours text, in week order.

    "Mon - Fri: 0800-2200, Sat: 0900-2000" -> monday..friday 08:00-22:00,
    saturday 09:00-20:00; several intervals of one day ("Mon: 0800-1100,
    1200-1600") are kept; days not named, or written "Closed", are closed.
    """
    if not text:
        return []
    headers = list(_DAY_RANGE.finditer(text))
    by_day: dict[Weekday, list[tuple[str, str]]] = {}
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        intervals = []
        for match in _TIME_RANGE.finditer(text[header.end() : end]):
            opens, closes = _hhmm(match.group(1) + match.group(2)), _hhmm(match.group(3) + match.group(4))
            if opens and closes:
                intervals.append((opens, closes))
        for day in _days(header.group(1), header.group(2)):
            by_day.setdefault(day, []).extend(intervals)
    return [
        OpeningHours(day=day, opens=opens, closes=closes)
        for day in WEEKDAYS
        for opens, closes in by_day.get(day, [])
    ]


def _distance_m(value: str | None) -> int | None:
    text = (text_of(value) or "").replace(",", ".")
    try:
        kilometres = float(text)
    except ValueError:
        return None
    return round(kilometres * 1000) if kilometres >= 0 else None


def _address(point: PickupPoint) -> ServicePointAddress:
    visiting = text_of(point.visitingAddress)
    line = visiting or text_of(point.address)
    return ServicePointAddress(
        address_lines=[line] if line else [],
        city=text_of(point.visitingCity) if visiting else text_of(point.city),
        postal_code=text_of(point.visitingPostalCode) if visiting else text_of(point.postalCode),
        country=(text_of(point.countryCode) or "").upper() or None,
    )


def _coordinate(value: float | None, limit: float) -> float | None:
    return value if value is not None and -limit <= value <= limit and value != 0 else None


def service_point(point: PickupPoint) -> ServicePoint | None:
    """One `pickupPoint` as a ServicePoint (`raw` verbatim); None when it has no id."""
    point_id = text_of(point.id) or text_of(point.unitId)
    if point_id is None:
        return None
    name = text_of(point.name) or point_id
    hours = _structured_hours(point.openingHours) or parse_opening_text(point.openingHoursEnglish)
    return ServicePoint(
        carrier=CARRIER,
        id=point_id,
        name=name,
        type=pickup_point_type(point.type, name),
        address=_address(point),
        latitude=_coordinate(point.latitude, 90),
        longitude=_coordinate(point.longitude, 180),
        distance_m=_distance_m(point.distanceInKm),
        opening_hours=hours,
        raw=point.raw,
    )


def parse_pickup_points(payload: Any, *, limit: int) -> list[ServicePoint]:
    """The points of a `{pickupPoint: [...]}` reply, in Bring's order (driving time), at most `limit`.

    An empty or missing list gives []. Raises CarrierBadResponse when the
    payload is not a JSON object.
    """
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "pickup point reply is not a JSON object")
    points = [p for p in map(service_point, PickupPointReply.model_validate(payload).pickupPoint) if p is not None]
    return points[:limit]


def error_text(payload: Any) -> str | None:
    """The carrier's words in a locator error body (`errors[].description|message|code`, `message`, `error`)."""
    if not isinstance(payload, dict):
        return None
    errors = payload.get("errors") or payload.get("fieldErrors")
    if isinstance(errors, list):
        parts = []
        for error in errors:
            if isinstance(error, dict):
                code = text_of(error.get("code"))
                message = text_of(error.get("description") or error.get("message") or error.get("error"))
                parts.append(": ".join(p for p in (code, message) if p))
            elif text_of(error):
                parts.append(str(error).strip())
        if any(parts):
            return "; ".join(p for p in parts if p)
    for key in ("message", "error", "description"):
        if text_of(payload.get(key)) and not isinstance(payload.get(key), dict | list):
            return str(payload[key]).strip()
    return None
