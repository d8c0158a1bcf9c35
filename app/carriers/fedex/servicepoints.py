"""FedEx Location Search API 1.0.0: Hold at Location points near an address, as pure functions (no I/O).

Documents followed (copies in `carrier-samples/fedex/`):

* `openapi-location-search-api.json` — `POST /location/v1/locations`, body
  `Full_Schema_Find_Location` (required `location.address.countryCode`;
  `locationsSummaryRequestControlParameters` {`distance` {units KM|MI, value},
  `maxResults`}, `locationSearchCriterion` ADDRESS, `locationCapabilities[]`
  {`transferOfPossessionType` HOLD_AT_LOCATION}, `sort` {DISTANCE, ASCENDING},
  `multipleMatchesAction` RETURN_ALL); reply `LoccResponseVO`
  (`output.locationDetailList[]` of `LocationDetail`); errors `ErrorResponseVO`
  (400 example ERROR.LONGLAT.REQUIRED);
* examples `location-search-request-spec-example-hold-at-location.json` (the HAL
  search this follows), `location-search-location-detail-schema-example.json`
  (one `LocationDetail`);
* FedEx "Location Search API" docs (developer.fedex.com, catalog/locations/v1/docs):
  "returns up to 75 locations within a 50-mile (80 km) radius" (hence the radius we
  ask for), the location types and which take Hold at Location (FedEx OnSite,
  FedEx Office, Express stations, FedEx Ship Centers, FedEx Ship & Get parcel
  lockers), and the error code NORESULT.TO.RETURN "No result returned" (an empty
  answer, not a refusal).

We ask only for locations that can hold a package (HOLD_AT_LOCATION), because
`service_point_id` books Hold at Location: `ServicePoint.id` is `locationId`, which
`app.carriers.fedex.shipping.build_shipment_request` sends as
`shipmentSpecialServices.holdAtLocationDetail.locationId` (Ship API: "Use endpoint
Find Location in Location Search API, to find the correct location ID").

Type (`location_type`): FedEx's own counters (FEDEX_OFFICE, FEDEX_EXPRESS_STATION,
FEDEX_STAFFED, FEDEX_FACILITY, FEDEX_GROUND_TERMINAL, FEDEX_HOME_DELIVERY_STATION,
FEDEX_FREIGHT_SERVICE_CENTER, FEDEX_SMART_POST_HUB) -> post_office; parcel lockers and
self-service points (FEDEX_SHIP_AND_GET, FEDEX_SELF_SERVICE_LOCATION) -> locker;
third-party shops and agents (FEDEX_ONSITE: Walgreens, Dollar General, ...;
FEDEX_AUTHORIZED_SHIP_CENTER: independent pack-and-ship stores; FEDEX_SHIPSITE:
Office Depot/OfficeMax) -> service_point. `lockerAvailability` ("a FedEx locker is
available at the location") decides only for a location of no known type.

Distances: `distance` {units KM|MI, value} in metres (1 MI = 1609.344 m). Opening hours:
`storeHours[]` per `dayofweek` (or `dayOfWeek`): OPEN_BY_HOURS -> each
`operationalHours` {begins, ends} ("08:00:00" -> "08:00", an end of "00:00" -> "24:00"),
OPEN_ALL_DAY -> 00:00-24:00, CLOSED_ALL_DAY -> none; `exceptionalHours` (holiday
exceptions, not the regular week) are left out. Times are the location's local times.
"""

from __future__ import annotations

import re
from typing import Any

from app.carriers.errors import CarrierBadResponse
from app.carriers.fedex.schemas import LocationDetail, LocationHours, LocationSearchResponse
from app.carriers.fields import text_of
from app.carriers.locations import (
    WEEKDAYS,
    OpeningHours,
    ServicePoint,
    ServicePointAddress,
    ServicePointQuery,
    ServicePointType,
    Weekday,
)
from app.carriers.places import ENGLISH, EVERY_TERRITORY, alpha2, city_unless_country

CARRIER = "fedex"
LOCATION_SEARCH_PATH = "/location/v1/locations"
MILE_COUNTRIES = frozenset({"US", "PR"})
"""Where we ask for (and FedEx answers) distances in miles; kilometres elsewhere."""
SEARCH_RADIUS = {"MI": 50, "KM": 80}
"""The radius we search: the documented maximum (50 miles / 80 km); `maxResults` and sorting keep the nearest."""
METRES_PER_UNIT = {"KM": 1000.0, "MI": 1609.344, "M": 1.0}
NO_RESULT_CODES = frozenset({"NORESULT.TO.RETURN"})
"""FedEx error codes that mean "no location in the area" (an empty list, not a rejection)."""
LOCATION_TYPES: dict[str, ServicePointType] = {
    "FEDEX_OFFICE": "post_office",
    "FEDEX_EXPRESS_STATION": "post_office",
    "FEDEX_STAFFED": "post_office",
    "FEDEX_FACILITY": "post_office",
    "FEDEX_GROUND_TERMINAL": "post_office",
    "FEDEX_HOME_DELIVERY_STATION": "post_office",
    "FEDEX_FREIGHT_SERVICE_CENTER": "post_office",
    "FEDEX_SMART_POST_HUB": "post_office",
    "FEDEX_SHIP_AND_GET": "locker",
    "FEDEX_SELF_SERVICE_LOCATION": "locker",
    "FEDEX_ONSITE": "service_point",
    "FEDEX_AUTHORIZED_SHIP_CENTER": "service_point",
    "FEDEX_SHIPSITE": "service_point",
}
"""`LocationDetail.locationType` -> our type (see the module docstring)."""
_DAYS: dict[str, Weekday] = {day.upper(): day for day in WEEKDAYS} | {day[:3].upper(): day for day in WEEKDAYS}
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})")


def distance_unit(country: str) -> str:
    """The distance unit we search in for `country`: "MI" in the US and PR, else "KM"."""
    return "MI" if country in MILE_COUNTRIES else "KM"


def build_location_search_request(query: ServicePointQuery) -> dict[str, Any]:
    """The JSON body of `POST /location/v1/locations`: Hold at Location points near the queried address.

    Address search (`locationSearchCriterion` ADDRESS) by street (when given), city (when
    given), postal code and country; `maxResults` = `query.limit`, the documented maximum
    radius in the country's unit, nearest first, locations that take HOLD_AT_LOCATION only.
    """
    unit = distance_unit(query.country)
    address: dict[str, Any] = {}
    if query.street:
        address["streetLines"] = [query.street]
    if query.city:
        address["city"] = query.city
    address["postalCode"] = query.postal_code
    address["countryCode"] = query.country
    return {
        "locationsSummaryRequestControlParameters": {
            "distance": {"units": unit, "value": SEARCH_RADIUS[unit]},
            "maxResults": query.limit,
        },
        "locationSearchCriterion": "ADDRESS",
        "location": {"address": address},
        "locationCapabilities": [{"transferOfPossessionType": "HOLD_AT_LOCATION"}],
        "sort": {"criteria": "DISTANCE", "order": "ASCENDING"},
        "multipleMatchesAction": "RETURN_ALL",
    }


def distance_metres(value: float | None, units: str | None, default_unit: str) -> int | None:
    """A FedEx `Distance` in whole metres (`units` KM|MI, `default_unit` when absent); None when absent or negative."""
    if value is None or value != value or value < 0:
        return None
    factor = METRES_PER_UNIT.get((units or default_unit).strip().upper())
    return round(value * factor) if factor else None


def _clock(value: str | None, *, end: bool) -> str | None:
    match = _TIME.match(value or "")
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        return None
    if end and hours in (0, 24) and minutes == 0:
        return "24:00"
    return f"{hours:02d}:{minutes:02d}"


def opening_hours(store_hours: list[LocationHours]) -> list[OpeningHours]:
    """`storeHours[]` as our opening intervals, in FedEx's order (see the module docstring); unreadable days are skipped."""
    hours: list[OpeningHours] = []
    for entry in store_hours:
        day = _DAYS.get((entry.dayofweek or entry.dayOfWeek or "").strip().upper())
        kind = (entry.operationalHoursType or "").strip().upper()
        if day is None or kind == "CLOSED_ALL_DAY":
            continue
        if kind == "OPEN_ALL_DAY":
            hours.append(OpeningHours(day=day, opens="00:00", closes="24:00"))
            continue
        ranges = entry.operationalHours
        for time_range in [ranges] if isinstance(ranges, dict) else ranges or []:
            if not isinstance(time_range, dict):
                continue
            opens = _clock(text_of(time_range.get("begins")), end=False)
            closes = _clock(text_of(time_range.get("ends")), end=True)
            if opens and closes and opens != closes:
                hours.append(OpeningHours(day=day, opens=opens, closes=closes))
    return hours


def location_type(detail: LocationDetail) -> ServicePointType:
    """Our type of a FedEx location (`LOCATION_TYPES`; `lockerAvailability` for an unknown type)."""
    known = LOCATION_TYPES.get((detail.locationType or "").strip().upper())
    if known:
        return known
    return "locker" if detail.lockerAvailability else "service_point"


def _coordinate(value: float | None, limit: float) -> float | None:
    return value if value is not None and value == value and -limit <= value <= limit else None


def service_point(raw: dict[str, Any], *, default_unit: str) -> ServicePoint | None:
    """One `LocationDetail` as a `ServicePoint`; None without a `locationId` (nothing to book).

    Name: `contact.companyName`, else the display names, else "FedEx <locationId>".
    """
    detail = LocationDetail.model_validate(raw)
    location_id = text_of(detail.locationId)
    if not location_id:
        return None
    contact_and_address = detail.contactAndAddress or detail.locationContactAndAddress
    contact = contact_and_address.contact if contact_and_address else None
    ancillary = contact_and_address.addressAncillaryDetail if contact_and_address else None
    name = next(
        (
            text
            for text in (
                contact.companyName if contact else None,
                contact_and_address.displayName if contact_and_address else None,
                contact.displayName if contact else None,
                ancillary.displayName if ancillary else None,
            )
            if text_of(text)
        ),
        f"FedEx {location_id}",
    )
    address = contact_and_address.address if contact_and_address else None
    country = alpha2(address.countryCode) if address else None
    coordinates = detail.geoPositionalCoordinates
    return ServicePoint(
        carrier=CARRIER,
        id=location_id,
        name=text_of(name) or f"FedEx {location_id}",
        type=location_type(detail),
        address=ServicePointAddress(
            address_lines=[text for text in map(text_of, address.streetLines) if text] if address else [],
            city=city_unless_country(address.city, ENGLISH, exclude=EVERY_TERRITORY) if address else None,
            postal_code=text_of(address.postalCode) if address else None,
            country=country,
        ),
        latitude=_coordinate(coordinates.latitude, 90) if coordinates else None,
        longitude=_coordinate(coordinates.longitude, 180) if coordinates else None,
        distance_m=distance_metres(detail.distance.value, detail.distance.units, default_unit) if detail.distance else None,
        opening_hours=opening_hours(detail.storeHours),
        raw=raw,
    )


def parse_location_search(payload: Any, query: ServicePointQuery) -> list[ServicePoint]:
    """The service points of a 200 reply to `POST /location/v1/locations`, nearest first, at most `query.limit`.

    Locations without an id are skipped, a repeated id is kept once; an empty or absent
    `locationDetailList` gives []. Raises CarrierBadResponse when the reply is not a JSON object.
    """
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "the location search reply is not a JSON object")
    reply = LocationSearchResponse.model_validate(payload)
    details = reply.output.locationDetailList if reply.output else []
    default_unit = distance_unit(query.country)
    points: dict[str, ServicePoint] = {}
    for raw in details:
        if not isinstance(raw, dict):
            continue
        point = service_point(raw, default_unit=default_unit)
        if point is not None:
            points.setdefault(point.id, point)
    ordered = sorted(points.values(), key=lambda p: (p.distance_m is None, p.distance_m or 0))
    return ordered[: query.limit]


def is_no_result(error_codes: list[str | None]) -> bool:
    """True when a FedEx error reply says only that there is no location to return (`NO_RESULT_CODES`)."""
    codes = {(code or "").upper() for code in error_codes}
    return bool(codes) and codes <= NO_RESULT_CODES
