"""UPS Access Points through the Locator API v3: build the search, read the reply, and look one point up for a booking (pure functions).

Document: `carrier-samples/ups/openapi-locator.yaml` (UPS Locator,
UPS-API/api-documentation @ e6f36df4): `POST /api/locations/v3/search/availabilities/{reqOption}?Locale=en_US`,
body `LOCATORRequestWrapper` (example `locator-request-spec-example.json`),
reply `LOCATORResponseWrapper`, errors `{"response": {"errors": [{code, message}]}}`.
The spec has no reply example; the shapes read here are the schema's plus
what UPS is known to send off it (UPS-API/api-documentation issue #191 and
the Locator sample reply of UPS-API/java-api-examples: `OpenHours` /
`CloseHours` arrays for split days, objects where v3 promises arrays,
`Distance.UnitOfMeasurement` as a bare string, "&#xD;" between address lines).

* Search (`build_search_request`): reqOption 64 "Search for UPS Access Point
  Locations", `OriginAddress.AddressKeyFormat` from the query (street,
  city, postal code, country; the members the schema requires are always
  sent, "" where the query has none: the state, and street or city when not
  given, as UPS's own examples pad with " "), `MaximumListSize` =
  limit (1-50), distances in KM with `SearchRadius` `SEARCH_RADIUS_KM` (5-150
  for KM), only active-available points (`AccessPointSearch.AccessPointStatus`
  01), nearest first (`SortCriteria.SortType` 01).
* Look-up by id (`build_lookup_request`): the same with
  `AccessPointSearch.PublicAccessPointID` ("Once this parameter is present,
  address or geocode search is ignored"), the origin being the recipient's
  address (the country must still be given).
* Reply (`parse_search_response`): one ServicePoint per `DropLocation` that
  has an `AccessPointInformation.PublicAccessPointID` — that id is `id`, and
  what the Shipping API takes as `AlternateDeliveryAddress.UPSAccessPointID`
  (`LocationID` is UPS-internal: "Do not expose the Location ID"); name =
  `AddressKeyFormat.ConsigneeName`; `Distance.Value` in the reply's unit
  (MI or KM) -> metres; hours from `OperatingHours.StandardHours` of HoursType
  10 (regular operating hours), days 1 = Sunday .. 7 = Saturday, times military
  HHMM ("930", midnight "0"), `ClosedIndicator` / `Open24HoursIndicator`;
  without `OperatingHours`, the text `StandardHoursOfOperation`
  ("Mon-Fri: 9:00am-8:00pm; Sat: 9:00am-5:00pm; Sun: Closed") is read instead
  (`app.carriers.ups.hours`).
* Type: a locker when UPS describes it so (location type or business
  classification "...LOCKER..."), a post office for a UPS Customer Center
  (UPS's own counter), else a service point (The UPS Store, retail Access Points).
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

from app.carriers.errors import CarrierBadResponse, ShipmentRequestInvalid
from app.carriers.fields import compact_id, text_of
from app.carriers.locations import ServicePoint, ServicePointAddress, ServicePointQuery, ServicePointType
from app.carriers.shipping import Address, FieldError
from app.carriers.ups.hours import operating_hours, standard_hours_text
from app.carriers.ups.schemas import UpsDropLocation, UpsLocatorReply, as_list

CARRIER = "ups"
API_VERSION = "v3"
ACCESS_POINT_SEARCH = "64"
"""`reqOption` 64: "Search for UPS Access Point Locations"."""
SEARCH_PATH = f"/api/locations/{API_VERSION}/search/availabilities/{ACCESS_POINT_SEARCH}"
SEARCH_RADIUS_KM = 25
"""`LocationSearchCriteria.SearchRadius` sent, in KM (the spec allows 5-150 KM)."""
ACTIVE_AVAILABLE = "01"
"""`AccessPointStatus` 01: Active-available (06 suspended, 07 active-unavailable, 08 terminated)."""
METRES_PER_UNIT = {"KM": 1000.0, "MI": 1609.344}
"""`Distance.UnitOfMeasurement.Code` -> metres per unit."""
LOOKUP_LIST_SIZE = 5
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _origin(*, country: str, postal_code: str | None, city: str | None, street: str | None, state: str | None = None) -> dict[str, Any]:
    """`OriginAddress.AddressKeyFormat`: every member the schema requires, "" where the query has no value."""
    return {
        "AddressLine": (street or "")[:100],
        "PoliticalDivision2": (city or "")[:50],
        "PoliticalDivision1": (state or "")[:50],
        "PostcodePrimaryLow": (postal_code or "")[:10],
        "CountryCode": country,
    }


def _request(origin: dict[str, Any], *, size: int, access_point: dict[str, Any], locale: str) -> dict[str, Any]:
    return {
        "LocatorRequest": {
            "Request": {"RequestAction": "Locator", "TransactionReference": {"CustomerContext": ""}},
            "OriginAddress": {"AddressKeyFormat": origin, "MaximumListSize": str(size)},
            "Translate": {"Locale": locale},
            "UnitOfMeasurement": {"Code": "KM"},
            "LocationSearchCriteria": {
                "MaximumListSize": str(size),
                "SearchRadius": str(SEARCH_RADIUS_KM),
                "AccessPointSearch": access_point,
            },
            "SortCriteria": {"SortType": "01"},
        }
    }


def build_search_request(query: ServicePointQuery, *, locale: str = "en_US") -> dict[str, Any]:
    """The `LOCATORRequestWrapper` body searching active UPS Access Points near `query` (reqOption 64)."""
    origin = _origin(country=query.country, postal_code=query.postal_code, city=query.city, street=query.street)
    return _request(origin, size=query.limit, access_point={"AccessPointStatus": ACTIVE_AVAILABLE}, locale=locale)


def build_lookup_request(access_point_id: str, near: Address, *, locale: str = "en_US") -> dict[str, Any]:
    """The `LOCATORRequestWrapper` body looking up one Access Point by its public id, in `near`'s country."""
    origin = _origin(
        country=near.country, postal_code=near.postal_code, city=near.city, street=near.address_lines[0], state=near.state
    )
    return _request(
        origin, size=LOOKUP_LIST_SIZE, access_point={"PublicAccessPointID": access_point_id.strip()}, locale=locale
    )


# --------------------------------------------------------------------------- reply


def _code_descriptions(value: Any) -> list[tuple[str, str]]:
    """(Code, Description) of every {Code, Description} object in `value` and its nested OptionCode/BusinessClassification."""
    found: list[tuple[str, str]] = []
    for item in as_list(value):
        if isinstance(item, dict):
            if "Code" in item or "Description" in item:
                found.append((text_of(item.get("Code")) or "", text_of(item.get("Description")) or ""))
            for key in ("OptionCode", "BusinessClassification"):
                found += _code_descriptions(item.get(key))
    return found


def address_lines(value: Any) -> list[str]:
    """`AddressLine` (a string with line breaks or "&#xD;" between lines, or a list of them) as lines."""
    lines: list[str] = []
    for part in as_list(value):
        text = html.unescape(str(part)) if isinstance(part, (str, int, float)) else ""
        lines += [line.strip() for line in _LINE_BREAK.split(text) if line.strip()]
    return lines


def point_type(drop: UpsDropLocation) -> ServicePointType:
    """locker / post_office (UPS Customer Center) / service_point, from UPS's own descriptions of the location."""
    descriptions = [d.casefold() for _, d in _code_descriptions(drop.LocationAttribute)]
    if drop.AccessPointInformation is not None:
        descriptions += [d.casefold() for _, d in _code_descriptions(drop.AccessPointInformation.BusinessClassificationList)]
    if any("locker" in d for d in descriptions):
        return "locker"
    if any("customer center" in d or "customer centre" in d for d in descriptions):
        return "post_office"
    return "service_point"


def distance_m(value: Any, *, default_unit: str = "KM") -> int | None:
    """`Distance` {Value, UnitOfMeasurement {Code} or a bare "MI"/"KM"} in whole metres; None when unreadable."""
    if not isinstance(value, dict):
        return None
    unit = value.get("UnitOfMeasurement")
    code = (text_of(unit.get("Code")) if isinstance(unit, dict) else text_of(unit)) or default_unit
    factor = METRES_PER_UNIT.get(code.upper()[:2].replace("KI", "KM"))
    try:
        amount = float(text_of(value.get("Value")) or "")
    except ValueError:
        return None
    if factor is None or not math.isfinite(amount) or amount < 0:
        return None
    return round(amount * factor)


def _coordinate(value: str | None, limit: float) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and abs(number) <= limit else None


def postal_code(address: Any) -> str | None:
    """PostcodePrimaryLow, with "-" + PostcodeExtendedLow for US/PR ZIP+4."""
    primary = text_of(address.PostcodePrimaryLow)
    extended = text_of(address.PostcodeExtendedLow)
    if primary and extended and (text_of(address.CountryCode) or "").upper() in {"US", "PR"} and extended != primary:
        return f"{primary}-{extended}"
    return primary


def access_point_id(drop: UpsDropLocation) -> str | None:
    """The Access Point's public id (`AccessPointInformation.PublicAccessPointID`), or None for other locations."""
    return text_of(drop.AccessPointInformation.PublicAccessPointID) if drop.AccessPointInformation else None


def access_point_status(drop: UpsDropLocation) -> tuple[str | None, str | None]:
    """(`AccessPointStatus.Code`, its Description); (None, None) when UPS gives none."""
    status = drop.AccessPointInformation.AccessPointStatus if drop.AccessPointInformation else None
    if isinstance(status, dict):
        return text_of(status.get("Code")), text_of(status.get("Description"))
    return text_of(status), None


def parse_drop_location(drop: UpsDropLocation) -> ServicePoint | None:
    """One `DropLocation` as a ServicePoint (None without a PublicAccessPointID: not bookable as an Access Point)."""
    point_id = access_point_id(drop)
    if point_id is None:
        return None
    address = drop.AddressKeyFormat
    hours = operating_hours(drop.OperatingHours)
    if not hours and drop.StandardHoursOfOperation:
        hours = standard_hours_text(drop.StandardHoursOfOperation)
    country = text_of(address.CountryCode) if address else None
    return ServicePoint(
        carrier=CARRIER,
        id=point_id,
        name=(text_of(address.ConsigneeName) if address else None) or f"UPS Access Point {point_id}",
        type=point_type(drop),
        address=ServicePointAddress(
            address_lines=address_lines(address.AddressLine) if address else [],
            city=text_of(address.PoliticalDivision2) if address else None,
            postal_code=postal_code(address) if address else None,
            country=country.upper() if country else None,
        ),
        latitude=_coordinate(drop.Geocode.Latitude, 90) if drop.Geocode else None,
        longitude=_coordinate(drop.Geocode.Longitude, 180) if drop.Geocode else None,
        distance_m=distance_m(drop.Distance),
        opening_hours=hours,
        raw=drop.raw,
    )


def drop_locations(payload: Any) -> list[UpsDropLocation]:
    """The `SearchResults.DropLocation` objects of a 200 reply (one object or a list); [] when there are none.

    Raises CarrierBadResponse when the reply is no `LocatorResponse`, or its
    `Response.ResponseStatusCode` is "0" (failure).
    """
    reply = UpsLocatorReply.model_validate(payload) if isinstance(payload, dict) else None
    response = reply.LocatorResponse if reply else None
    if response is None:
        raise CarrierBadResponse(CARRIER, "Locator reply has no LocatorResponse")
    header = response.Response if isinstance(response.Response, dict) else {}
    if text_of(header.get("ResponseStatusCode")) == "0":
        raise CarrierBadResponse(CARRIER, f"Locator answered failure: {header.get('Error') or header}")
    results = response.SearchResults
    items = as_list(results.DropLocation) if results else []
    return [UpsDropLocation.model_validate(item) for item in items if isinstance(item, dict)]


def parse_search_response(payload: Any) -> list[ServicePoint]:
    """A 200 reply of the Access Point search as ServicePoints, in UPS's order (nearest first)."""
    return [point for point in map(parse_drop_location, drop_locations(payload)) if point is not None]


def find_access_point(payload: Any, wanted_id: str) -> UpsDropLocation | None:
    """The DropLocation of a look-up reply whose PublicAccessPointID is `wanted_id` (case/space-insensitive), or None."""
    wanted = compact_id(wanted_id)
    return next((drop for drop in drop_locations(payload) if compact_id(access_point_id(drop)) == wanted), None)


def no_locations(errors: list[tuple[str, str]]) -> bool:
    """Whether a Locator 400 error list says only that nothing was found (an empty answer, not a refusal).

    UPS publishes its Locator error table only in the portal's appendix; the
    test here is the message text ("no locations", "no UPS Access Point").
    """
    return bool(errors) and all(re.search(r"\bno\b.*\b(locations?|access points?)\b", m, re.IGNORECASE) for _, m in errors)


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit].strip() or None if value else None


def access_point_address(drop: UpsDropLocation, recipient: Address) -> Address:
    """The Access Point as the `Address` the Shipping API's `AlternateDeliveryAddress` is built from.

    company = the location's name (-> `Name`, "Retail Location Name"), name
    = the recipient (-> `AttentionName`, who collects it); lines, city,
    state, postal code and country from `AddressKeyFormat`, cut to the
    Shipping API's lengths (Name/AttentionName/AddressLine 35, City 30,
    StateProvinceCode 5). Raises ShipmentRequestInvalid (field
    `service_point_id`) when UPS gives no street, city or country for it.
    """
    address = drop.AddressKeyFormat
    lines = [line[:35].strip() for line in address_lines(address.AddressLine)][:3] if address else []
    city = _clip(text_of(address.PoliticalDivision2), 30) if address else None
    country = (text_of(address.CountryCode) or "").upper() if address else ""
    if not lines or not city or len(country) != 2:
        raise ShipmentRequestInvalid(
            CARRIER, [FieldError(f"UPS gives no usable address for Access Point {access_point_id(drop)}", "service_point_id")]
        )
    state = text_of(address.PoliticalDivision1) if address else None
    return Address(
        name=recipient.name[:35],
        company=_clip(text_of(address.ConsigneeName), 35) if address else None,
        address_lines=lines,
        city=city,
        postal_code=postal_code(address),
        state=state if state and len(state) <= 5 else None,  # a full province name is no StateProvinceCode
        country=country,
    )
