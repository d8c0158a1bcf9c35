"""DHL service points through Location Finder – Unified v1: build the find-by-address query, read its reply (pure functions).

Carrier document followed: DHL "Location Finder - Unified" OpenAPI
(developer.dhl.com/api-reference/location-finder; host api.dhl.com, base
path /location-finder/v1, header `DHL-API-Key`, one environment:
production), operation `GET /find-by-address`; reply
`supermodelIoLogisticsPUDOLocations` (sample
`location-finder-find-by-address-response-parcel-lockers-bonn.json`),
errors RFC 7807 problem details (`location-finder-error-401/404/429-*.json`).

Request (`find_by_address_params`): countryCode (required), postalCode,
addressLocality, streetAddress ("address fields are not filters": DHL
geocodes them to a point), providerType=parcel, locationType repeated
(servicepoint, locker, postoffice, postbank: the points a consignee collects
from, so letter boxes are never listed), radius in metres (`SEARCH_RADIUS_M`,
the API allows at most 25 000) and limit (at most 50).

Why Location Finder and not MyDHL API `GET /servicepoints`: the one DHL
booking that takes a `service_point_id` is Parcel DE (Packstation, post
office); MyDHL Express bookings take none (`express.validate`), and one
`find_service_points` cannot know which API the merchant will book with.
Express-only locations have no keyword/keywordId (DHL's Postman guide), so
`providerType=parcel` keeps the list to points Parcel DE can address.

Reply mapping (`parse_find_by_address`), one ServicePoint per location, in
DHL's order (nearest first):

* `id`: what Parcel DE booking takes as `service_point_id`. For a German
  location the label addresses it by `keyword` + `keywordId` (spec
  `location.keyword`: "For German locations, keyword and keywordId are
  placed as street name and house number"), so a locker gives
  "Packstation <keywordId>" (Parcel DE `Locker.lockerID`, 100-999) and a post
  office, Postbank or service point (Paketshop) "Postfiliale <keywordId>"
  (`PostOffice.retailID`, 401-999); `app.carriers.dhl.parcel_de.service_point`
  reads both. Any other location keeps DHL's own id: the first
  `location.ids[].locationId` (provider parcel first), else the id in `url`
  ("/locations/8007-453113145"). The DHL ids stay in `raw`.
* `type`: locker -> locker; postoffice, postbank -> post_office; servicepoint
  and anything else -> service_point.
* `distance` is metres already; `place.geo` gives the coordinates.
* `openingHours[]`: `dayOfWeek` a schema.org URI ("http://schema.org/Monday"),
  `opens`/`closes` local "hh:mm:ss" (`local_time`); several entries on one
  day are several intervals (a lunch break), a day without one is closed.
"""

from __future__ import annotations

import math
import re
from typing import Any

from app.carriers.dhl.schemas import LocationFinderHours, LocationFinderLocation, LocationFinderProblem, LocationFinderReply
from app.carriers.errors import CarrierBadResponse, CarrierRejected
from app.carriers.fields import text_of
from app.carriers.locations import WEEKDAYS, OpeningHours, ServicePoint, ServicePointAddress, ServicePointQuery, ServicePointType
from app.carriers.shipping import FieldError

CARRIER = "dhl"
BASE_URL = "https://api.dhl.com/location-finder/v1"
"""The only Location Finder environment DHL offers (the sandbox integrations use it too)."""
OVERRIDE_PATH = "/location-finder/v1"
"""Below a `DHL_BASE_URL` override (a local stand-in)."""
FIND_BY_ADDRESS_PATH = "/find-by-address"
SEARCH_RADIUS_M = 5000
"""`radius` sent, metres (spec: at most 25 000; default 500 in v1.4, too close for a checkout's choice)."""
PROVIDER_TYPE = "parcel"
LOCATION_TYPES: tuple[str, ...] = ("servicepoint", "locker", "postoffice", "postbank")
TYPES: dict[str, ServicePointType] = {
    "locker": "locker",
    "postoffice": "post_office",
    "postbank": "post_office",
    "servicepoint": "service_point",
}
"""Location Finder `location.type` -> ServicePoint.type (an unlisted type is a service point)."""
LOCKER_NUMBERS = range(100, 1000)
"""Packstation numbers Parcel DE takes (`Locker.lockerID`)."""
RETAIL_NUMBERS = range(401, 1000)
"""Post office / Paketshop numbers Parcel DE takes (`PostOffice.retailID`)."""
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")


def find_by_address_params(query: ServicePointQuery) -> dict[str, Any]:
    """The query string of `GET /find-by-address` for `query` (`locationType` is repeated: a list value)."""
    params: dict[str, Any] = {"countryCode": query.country, "postalCode": query.postal_code}
    if query.city:
        params["addressLocality"] = query.city
    if query.street:
        params["streetAddress"] = query.street
    params["providerType"] = PROVIDER_TYPE
    params["locationType"] = list(LOCATION_TYPES)
    params["radius"] = str(SEARCH_RADIUS_M)
    params["limit"] = str(query.limit)
    return params


def local_time(value: str | None, *, closing: bool) -> str | None:
    """A schema.org Time ("09:00:00", "23:59:59", "9:00", "10:00:00+01:00") as "HH:MM" local; None if unreadable.

    The offset, if any, is dropped (the times are the point's wall clock).
    A closing time with seconds rounds up to the minute it ends ("23:59:59"
    -> "24:00": open to midnight); "00:00" as a closing time is the end of
    the day, "24:00".
    """
    match = _TIME.match((value or "").strip())
    if not match:
        return None
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hours > 24 or minutes > 59 or seconds > 59:
        return None
    total = hours * 60 + minutes + (1 if closing and seconds else 0)
    if closing and total == 0:
        total = 24 * 60
    if total > 24 * 60:
        return None
    return f"{total // 60:02d}:{total % 60:02d}"


def opening_hours(entries: list[LocationFinderHours]) -> list[OpeningHours]:
    """`openingHours[]` as OpeningHours, in DHL's order; entries without a weekday or a readable time are skipped."""
    hours: list[OpeningHours] = []
    for entry in entries:
        day = (text_of(entry.dayOfWeek) or "").rstrip("/").rsplit("/", 1)[-1].casefold()
        opens, closes = local_time(entry.opens, closing=False), local_time(entry.closes, closing=True)
        if day in WEEKDAYS and opens and closes:
            hours.append(OpeningHours(day=day, opens=opens, closes=closes))  # type: ignore[arg-type]
    return hours


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def service_point_id(location: LocationFinderLocation) -> str | None:
    """The `service_point_id` booking takes for `location` (module docstring), or None when it has no id at all."""
    meta = location.location
    address = location.place.address if location.place else None
    country = (text_of(address.countryCode) if address else None) or ""
    if meta is not None and country.upper() == "DE":
        number = _number(text_of(meta.keywordId))
        kind = (text_of(meta.type) or "").casefold()
        if number is not None and kind == "locker" and number in LOCKER_NUMBERS:
            return f"Packstation {number}"
        if number is not None and kind in {"postoffice", "postbank", "servicepoint"} and number in RETAIL_NUMBERS:
            return f"Postfiliale {number}"
    ids = sorted(meta.ids if meta else [], key=lambda i: (text_of(i.provider or i.providerType) or "") != PROVIDER_TYPE)
    for entry in ids:
        if text_of(entry.locationId):
            return text_of(entry.locationId)
    url = text_of(location.url)
    return url.rstrip("/").rsplit("/", 1)[-1] or None if url else None


def _coordinate(value: str | None, limit: float) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and abs(number) <= limit else None


def _distance(value: str | None) -> int | None:
    try:
        metres = float(value) if value is not None else None
    except ValueError:
        return None
    return round(metres) if metres is not None and math.isfinite(metres) and metres >= 0 else None


def parse_location(location: LocationFinderLocation) -> ServicePoint | None:
    """One Location Finder location as a ServicePoint; None when it carries no id."""
    point_id = service_point_id(location)
    if point_id is None:
        return None
    meta = location.location
    place = location.place
    address = place.address if place else None
    geo = place.geo if place else None
    street = text_of(address.streetAddress) if address else None
    keyword = " ".join(filter(None, (text_of(meta.keyword), text_of(meta.keywordId)))) if meta else ""
    country = text_of(address.countryCode) if address else None
    return ServicePoint(
        carrier=CARRIER,
        id=point_id,
        name=text_of(location.name) or keyword or point_id,
        type=TYPES.get((text_of(meta.type) or "").casefold() if meta else "", "service_point"),
        address=ServicePointAddress(
            address_lines=[street] if street else [],
            city=text_of(address.addressLocality) if address else None,
            postal_code=text_of(address.postalCode) if address else None,
            country=country.upper() if country else None,
        ),
        latitude=_coordinate(geo.latitude, 90) if geo else None,
        longitude=_coordinate(geo.longitude, 180) if geo else None,
        distance_m=_distance(location.distance),
        opening_hours=opening_hours(location.openingHours),
        raw=location.raw,
    )


def parse_find_by_address(payload: Any) -> list[ServicePoint]:
    """A 200 reply of `GET /find-by-address` as ServicePoints, in DHL's order (nearest first).

    Locations without any id are skipped. Raises CarrierBadResponse when the
    reply is not a `{"locations": [...]}` object.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("locations", []), list):
        raise CarrierBadResponse(CARRIER, "Location Finder reply is not a {locations: [...]} object")
    reply = LocationFinderReply.model_validate(payload)
    return [point for point in map(parse_location, reply.locations) if point is not None]


def rejection(payload: Any, status_code: int) -> CarrierRejected:
    """CarrierRejected for a refused query (400: unknown country, location type, ...), DHL's title and detail verbatim."""
    problem = LocationFinderProblem.model_validate(payload) if isinstance(payload, dict) else LocationFinderProblem()
    title, detail = text_of(problem.title), text_of(problem.detail)
    error = FieldError(message=detail or title or f"HTTP {status_code}", code=title)
    return CarrierRejected(
        CARRIER, f"Location Finder refused the search: {'; '.join(filter(None, (title, detail)))}",
        errors=[error], status_code=status_code,
    )  # fmt: skip
