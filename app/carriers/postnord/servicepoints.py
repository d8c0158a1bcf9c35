"""PostNord Service Points V5: the locator and the point of a booking, as pure functions (no I/O).

Document followed: PostNord "Service Points V5" OpenAPI 3.0, v5.0.14
(`carrier-samples/postnord/openapi-servicepoints-v5.swagger.json`; servers
https://atapi2.postnord.com/rest/businesslocation (sandbox) and
https://api2.postnord.com/rest/businesslocation; query parameter `apikey`).

* `GET /v5/servicepoints/nearest/byaddress` ("Find the nearest service points
  by address", sorted by distance): `returnType` json (required),
  `countryCode` (required; SE, NO, FI, DK, DE, BE, NL, LU, EE, LV, LT, AT, FR,
  ES, AX, PL, PT, CZ, IE, SK, SI), `postalCode` (without spaces) or `city`,
  `streetName`, `streetNumber`, `numberOfServicePoints`, `srId` EPSG:4326,
  `context` optionalservicepoint (the points a parcel can be sent to).
* `GET /v5/servicepoints/ids` (`countryCode`, `ids`): the point a MyPack
  Collect booking names, whose delivery address goes into the EDI `deliveryParty`.
* Reply `ResponseDto` -> `servicePointInformationResponse` {servicePoints[
  `ServicePointInformationStore`: servicePointId ("the unique ID used in the
  EDI for optional service point"), name, routeDistance ("distance in meter
  ... from a given address"), visitingAddress / deliveryAddress (`Address`),
  coordinates[] (`Coordinate` northing, easting, srId), openingHours
  {postalServices[] {openDay, openTime, closeDay, closeTime}}, type {typeId,
  typeName, groupTypeId, groupTypeName, boxType}], compositeFault}; errors
  `errorResponse` {message, compositeFault.faults[] {faultCode, explanationText,
  paramValues}}.

Coordinates: the spec's descriptions call northing "Longitude" and easting
"Latitude", but its example (northing 59.35, easting 18.01: Stockholm) and
EPSG:4326 itself give northing = latitude, easting = longitude; that is how
they are read. Opening hours are the point's local times, as PostNord writes them.
"""

from __future__ import annotations

import re
from typing import Any

from app.carriers.errors import CarrierBadResponse, CarrierRejected
from app.carriers.fields import text_of
from app.carriers.http import GetRequest
from app.carriers.locations import WEEKDAYS, OpeningHours, ServicePoint, ServicePointAddress, ServicePointQuery, ServicePointType
from app.carriers.postnord.faults import error_response_errors, errors_text, fault_errors
from app.carriers.postnord.schemas import PointAddress, PointType, PostalDate, ServicePointReply, ServicePointStore
from app.carriers.shipping import FieldError

CARRIER = "postnord"
NEAREST_BY_ADDRESS_PATH = "/rest/businesslocation/v5/servicepoints/nearest/byaddress"
BY_IDS_PATH = "/rest/businesslocation/v5/servicepoints/ids"
COUNTRIES = frozenset("SE NO FI DK DE BE NL LU EE LV LT AT FR ES AX PL PT CZ IE SK SI".split())
"""The `countryCode` values the spec allows."""
WGS84 = "EPSG:4326"
CONTEXT = "optionalservicepoint"
"""The spec's recommended context for checkouts: active points parcels can be delivered to."""
LOCKER_TYPE_IDS = frozenset({"2"})
"""`typeId`/`groupTypeId` 2: "Parcel Box Location (Nordic, Europe)"."""
POST_OFFICE_TYPE_IDS = frozenset({"22", "24", "54", "73", "74"})
"""PostNord's own counters: 22 Letter Office, 24 Business Centre, 54 Delivery Office, 73 Terminal pickup,
74 Letter terminal drop off (all SE). The others (6, 25, 37, 38, 44, 51, 61, ...) are agents: service points."""
_LOCKER_WORDS = ("box", "locker", "automat", "skåp", "boks")
_NOT_FOUND = re.compile(r"no (service ?points?|results?)|not found|hittades inte", re.IGNORECASE)
_STREET_NUMBER_LAST = re.compile(r"^(?P<name>.*?\D)\s+(?P<number>\d+\s?[A-Za-z]?(?:[-/]\d+[A-Za-z]?)?)$")
_STREET_NUMBER_FIRST = re.compile(r"^(?P<number>\d+\s?[A-Za-z]?)\s+(?P<name>\D.*)$")
_TIME = re.compile(r"^(\d{1,2}):?(\d{2})(?::\d{2})?$")
_DAYS = {day.upper(): day for day in WEEKDAYS}


def split_street(street: str | None) -> tuple[str | None, str | None]:
    """`(streetName, streetNumber)` of a street line: "Terminalvägen 24" and "24 Main St" both split; else (street, None)."""
    text = " ".join((street or "").split())
    if not text:
        return None, None
    for pattern in (_STREET_NUMBER_LAST, _STREET_NUMBER_FIRST):
        match = pattern.match(text)
        if match:
            return match.group("name").strip().rstrip(","), match.group("number").replace(" ", "")
    return text, None


def check_country(query: ServicePointQuery) -> None:
    """Raise CarrierRejected (field `country`, no call made) for a country PostNord's locator does not serve."""
    if query.country not in COUNTRIES:
        raise CarrierRejected(
            CARRIER,
            f"PostNord lists no service points in {query.country}",
            errors=[FieldError(f"PostNord's locator covers {', '.join(sorted(COUNTRIES))}", "country")],
        )


def build_nearest_request(base_url: str, query: ServicePointQuery, api_key: str) -> GetRequest:
    """The nearest-by-address request for `query` (country checked by `check_country`). The key is a query parameter."""
    params = {
        "apikey": api_key,
        "returnType": "json",
        "countryCode": query.country,
        "postalCode": "".join(query.postal_code.split()),
        "numberOfServicePoints": str(query.limit),
        "srId": WGS84,
        "context": CONTEXT,
    }
    if query.city:
        params["city"] = query.city
    name, number = split_street(query.street)
    if name:
        params["streetName"] = name
    if number:
        params["streetNumber"] = number
    return GetRequest(url=f"{base_url}{NEAREST_BY_ADDRESS_PATH}", params=params)


def build_ids_request(base_url: str, country: str, service_point_id: str, api_key: str) -> GetRequest:
    """The by-ids request for one point in `country` (the recipient's country)."""
    params = {"apikey": api_key, "returnType": "json", "countryCode": country, "ids": service_point_id.strip()}
    return GetRequest(url=f"{base_url}{BY_IDS_PATH}", params=params)


def _point_type(kind: PointType | None) -> ServicePointType:
    if kind is None:
        return "service_point"
    ids = {text_of(kind.typeId), text_of(kind.groupTypeId)} - {None}
    names = " ".join(text_of(n) or "" for n in (kind.typeName, kind.groupTypeName)).casefold()
    if ids & LOCKER_TYPE_IDS or (kind.boxType is not None and kind.boxType.raw) or any(w in names for w in _LOCKER_WORDS):
        return "locker"
    if text_of(kind.typeId) in POST_OFFICE_TYPE_IDS:
        return "post_office"
    return "service_point"


def _address(address: PointAddress | None) -> ServicePointAddress:
    if address is None:
        return ServicePointAddress(address_lines=[], city=None, postal_code=None, country=None)
    street = " ".join(t for t in (text_of(address.streetName), text_of(address.streetNumber)) if t)
    country = (text_of(address.countryCode) or "").upper()
    return ServicePointAddress(
        address_lines=[street] if street else [],
        city=text_of(address.city),
        postal_code=text_of(address.postalCode),
        country=country if len(country) == 2 and country.isalpha() else None,
    )


def _coordinates(point: ServicePointStore) -> tuple[float | None, float | None]:
    """(latitude, longitude) of the WGS 84 coordinate (srId EPSG:4326, or none given: we asked for WGS 84)."""
    for coordinate in point.coordinates:
        srid = (text_of(coordinate.srId) or WGS84).upper().replace(" ", "")
        if srid not in (WGS84, "4326", "WGS84"):
            continue
        lat, lon = coordinate.northing, coordinate.easting
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            return lat, lon
    return None, None


def _distance(value: Any) -> int | None:
    """`routeDistance` in whole metres (an object `{distance}` is read too); None when absent or unreadable."""
    if isinstance(value, dict):
        value = value.get("distance")
    if isinstance(value, bool) or value is None:
        return None
    try:
        metres = float(str(value).strip())
    except ValueError:
        return None
    return round(metres) if metres >= 0 else None


def _time(value: str | None) -> str | None:
    """"0800", "8:00", "08:00:00" -> "08:00"; None when unreadable."""
    match = _TIME.match((value or "").strip())
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        return None
    return f"{hours:02d}:{minutes:02d}"


def _intervals(entry: PostalDate) -> list[OpeningHours]:
    """One `postalServices` entry as intervals; an ALLWEEK entry for every day, one past midnight split at 24:00."""
    open_day = (text_of(entry.openDay) or "").upper()
    close_day = (text_of(entry.closeDay) or open_day).upper()
    opens, closes = _time(entry.openTime), _time(entry.closeTime)
    if opens is None or closes is None:
        return []
    if open_day == "ALLWEEK":
        days = list(WEEKDAYS)
    elif open_day in _DAYS:
        days = [_DAYS[open_day]]
    else:
        return []
    if close_day not in (open_day, "ALLWEEK") and close_day in _DAYS and open_day != "ALLWEEK":
        # Open across midnight (e.g. Friday 22:00 - Saturday 02:00): one interval per calendar day.
        first = OpeningHours(day=days[0], opens=opens, closes="24:00")
        return [first] + ([OpeningHours(day=_DAYS[close_day], opens="00:00", closes=closes)] if closes != "00:00" else [])
    if closes == "00:00" and opens != "00:00":
        closes = "24:00"  # closes at midnight, the end of that day
    return [OpeningHours(day=day, opens=opens, closes=closes) for day in days]


def _opening_hours(point: ServicePointStore) -> list[OpeningHours]:
    hours = [interval for entry in (point.openingHours.postalServices if point.openingHours else []) for interval in _intervals(entry)]
    return sorted(dict.fromkeys(hours), key=lambda h: (WEEKDAYS.index(h.day), h.opens))


def parse_point(point: ServicePointStore) -> ServicePoint | None:
    """One `ServicePointInformationStore` as a ServicePoint (the visiting address: where the recipient goes); None without an id."""
    point_id = text_of(point.servicePointId)
    if point_id is None:
        return None
    latitude, longitude = _coordinates(point)
    return ServicePoint(
        carrier=CARRIER,
        id=point_id,
        name=text_of(point.name) or point_id,
        type=_point_type(point.type),
        address=_address(point.visitingAddress or point.deliveryAddress),
        latitude=latitude,
        longitude=longitude,
        distance_m=_distance(point.routeDistance),
        opening_hours=_opening_hours(point),
        raw=point.raw,
    )


def _faults_or_empty(reply: ServicePointReply, status_code: int) -> None:
    """Raise CarrierRejected for the reply's faults, unless they only say nothing was found."""
    info = reply.servicePointInformationResponse
    errors = fault_errors(info.compositeFault if info else None)
    if errors and not all(_NOT_FOUND.search(e.message or "") for e in errors):
        raise CarrierRejected(CARRIER, f"service point search refused: {errors_text(errors)}", errors=errors, status_code=status_code)


def parse_points_reply(status_code: int, payload: Any, *, limit: int = 50) -> list[ServicePoint]:
    """A Service Points v5 reply (HTTP 200, or a 400/404 error body) as points, nearest first, at most `limit`.

    No point found (an empty `servicePoints`, a 404, or faults that say
    nothing was found) gives []. Raises CarrierRejected for PostNord's other
    faults (e.g. API-005 "Missing parameter", an unknown postal code) with
    their codes and texts, CarrierBadResponse for a body that is no PostNord reply.
    """
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "the service point reply is not a JSON object", status_code=status_code)
    if "servicePointInformationResponse" not in payload:
        message, errors = error_response_errors(payload)
        if not message and not errors:
            raise CarrierBadResponse(CARRIER, f"HTTP {status_code} without a PostNord service point reply", status_code=status_code)
        texts = [message or "", *(e.message or "" for e in errors)]
        if status_code == 404 or all(_NOT_FOUND.search(text) for text in texts if text):
            return []
        raise CarrierRejected(
            CARRIER, f"service point search refused: {errors_text(errors) or message}", errors=errors, status_code=status_code
        )
    reply = ServicePointReply.model_validate(payload)
    info = reply.servicePointInformationResponse
    points = [parsed for point in (info.servicePoints if info else []) if (parsed := parse_point(point)) is not None]
    if not points:
        _faults_or_empty(reply, status_code)
    return points[:limit]


def delivery_party_of(point: ServicePoint) -> dict[str, Any] | None:
    """The EDI `party_ext` (nameIdentification, address) of a point read by `parse_point`, from its delivery address.

    The spec: "The delivery address is used in the EDI for optional service
    point" (`Address`); the visiting address stands in when there is none.
    None when the point lacks what `address` requires (postal code, city, country).
    """
    raw = ServicePointStore.model_validate(point.raw)
    address = _address(raw.deliveryAddress) if raw.deliveryAddress is not None else point.address
    if not (address.postal_code and address.city and address.country):
        return None
    postal: dict[str, Any] = {"postalCode": address.postal_code, "city": address.city, "countryCode": address.country}
    if address.address_lines:
        postal = {"streets": address.address_lines[:1], **postal}
    return {"nameIdentification": {"name": point.name[:60]}, "address": postal}
