"""DHL tracking: Shipment Tracking – Unified requests and replies, and Unified Push notifications (pure functions).

Carrier document followed: DHL OpenAPI "DHL Shipment Tracking API" version
1.4.1 (`openapi-shipment-tracking-unified-1.4.1.yaml`, developer.dhl.com,
api-reference/shipment-tracking):

* `GET {base}/track/shipments?trackingNumber=<one number>` with header
  `DHL-API-Key` (`tracking_request`); production https://api-eu.dhl.com,
  test https://api-test.dhl.com (canned data, e.g. 00340434292135100186);
* `trackingNumber` is a single string, so one number per request; one number
  can match several shipments (one per DHL service): the one whose `id`
  equals the number is used;
* 404 `application/problem+json` "No result found" = unknown number; 401 = bad API key;
* `statusCode` is only `pre-transit | transit | delivered | failure | unknown`;
  the finer meaning (out for delivery, pickup, failed attempt, on its way back,
  back at the shipper) is in the free text `status`/`description`
  (`units.TEXT_RULES`). An event after one that put the parcel on its way back
  to the shipper (`return_to_sender`, not final) that says "delivered" is the
  delivery back to the shipper: `returned` (final);
* `timestamp` comes with an offset ("…Z") or without one. Naive times are
  local at the event place (the eCommerce sample: out for delivery 06:10 in
  Henderson, NV), unless the reply shows otherwise (`_calibrated_offset`);
* places (`supermodelIoLogisticsSupportingPlace.address`): DHL sometimes puts
  a country name ("Deutschland", "Germany") in `addressLocality`; that is
  never a city. DHL eCommerce writes "Hebron, KY, US": city "Hebron",
  state "KY" (`Location.state`; `addressRegion` is read too where sent);
* `details.proofOfDelivery.signed` (a Person: name / givenName + familyName)
  is who signed: `signed_by` of the delivery event;
* no estimated delivery once delivered (`TrackingResult` drops it).

Push ("Shipment Tracking – Unified – Push" 1.2.5, sample
`push-subscription-request-account.json`): the notification reuses the
tracking-response structure (`{"shipments": [Shipment]}`), read by
`parse_push_notification`.
"""

from __future__ import annotations

import logging
import re
from datetime import tzinfo
from functools import lru_cache
from typing import Any

from app.carriers.dhl.units import ALPHA3, STATUS_CODES, TEXT_RULES
from app.carriers.errors import CarrierBadResponse, WebhookPayloadError
from app.carriers.history import sign_latest
from app.carriers.places import territory_names
from app.carriers.returns import NONE_CARRIED_BACK, ReturnLeg, delivered_back
from app.carriers.timezones import parse_carrier_datetime, parse_iso, zone_for
from app.carriers.types import Location, TrackingEvent, TrackingResult, TrackingStatus

logger = logging.getLogger(__name__)

TRACK_PATH = "/track/shipments"
TEST_TRACKING_NUMBER = "00340434292135100186"
"""The spec's default `trackingNumber`; used for the credential check."""
NOT_FOUND = "No shipment with given tracking number found."

# Country names in the languages DHL answers in (and a few more); alpha-2/alpha-3 codes are added too.
_NAME_LOCALES = ("en", "de", "fr", "nl", "es", "it", "pl", "cs", "da", "sv", "pt", "nb", "fi")
# Countries whose DHL localities carry a state/province code after the city ("Hebron, KY, US").
_STATE_COUNTRIES = frozenset({"US", "CA", "AU", "MX", "BR", "IN", "CN", "MY"})
_STATE_CODE = re.compile(r"^[A-Z]{2,3}$")
# Countries whose capital bears the country's name: there the name is a city.
_CITY_STATES = frozenset({"LU", "SG", "MC", "VA", "KW", "DJ", "PA", "GT", "SM", "HK", "MO"})


def _str(value: Any) -> str | None:
    """`value` stripped if it is a non-empty string, else None (the spec's types are not always kept)."""
    return value.strip() or None if isinstance(value, str) else None


@lru_cache(maxsize=1)
def _country_names() -> dict[str, frozenset[str]]:
    """Alpha-2 code -> the casefolded names (CLDR, `app.carriers.places`) and codes of that country."""
    names: dict[str, set[str]] = {code: {code.casefold(), alpha3.casefold()} for code, alpha3 in ALPHA3.items()}
    for locale in _NAME_LOCALES:
        for code, name in territory_names(locale).items():
            if code in names:
                names[code].add(name.casefold())
    names["US"].update({"usa", "u.s.a.", "united states of america"})
    names["GB"].update({"uk", "great britain", "england"})
    names["NL"].add("holland")
    return {code: frozenset(found) for code, found in names.items()}


def is_country_name(text: str | None, country: str | None = None) -> bool:
    """Whether `text` names `country` (alpha-2), or any country when `country` is None (full names only then).

    "Deutschland", "Germany", "DE", "DEU" name DE. A city-state's capital
    ("Luxembourg", "Singapore") is not taken for its country.
    """
    folded = (text or "").strip().casefold()
    if not folded:
        return False
    table = _country_names()
    if country:
        return country not in _CITY_STATES and folded in table.get(country, frozenset())
    return len(folded) > 3 and any(folded in names for names in table.values())


def normalize_status(status_code: str | None, *texts: str | None, return_flag: bool = False) -> TrackingStatus:
    """Map a DHL `statusCode` plus its free text onto `TrackingStatus` (rules: `units.TEXT_RULES`).

    An unknown `statusCode`, or `unknown` with unrecognized text, gives
    UNKNOWN and a logged warning. `return_flag` (newer API versions: the
    shipment is a return) turns a `delivered` event into RETURNED.
    """
    code = (_str(status_code) or "").lower()
    text = " ".join(t for t in map(_str, texts) if t)
    for pattern, status, codes in TEXT_RULES:
        if code in codes and pattern.search(text):
            return status
    if code == "delivered" and return_flag:
        return TrackingStatus.RETURNED
    status = STATUS_CODES.get(code)
    if status is None or status is TrackingStatus.UNKNOWN:
        logger.warning("dhl: unmapped statusCode %r with text %r; using unknown", status_code, text)
        return TrackingStatus.UNKNOWN
    return status


def _address(place: Any) -> dict[str, Any]:
    if isinstance(place, dict) and isinstance(place.get("address"), dict):
        return place["address"]
    return {}


def parse_location(place: Any) -> Location:
    """A DHL `Place` (`{"address": {countryCode, postalCode, addressLocality, addressRegion?}}`) as a Location.

    Trailing locality parts that name a country are dropped (a locality that
    is only a country name gives city None); for countries whose DHL
    localities end in a state code ("Hebron, KY, US") the code becomes `state`.
    """
    address = _address(place)
    country = _str(address.get("countryCode"))
    country = country.upper() if country else None
    state = _str(address.get("addressRegion"))
    parts = [p.strip() for p in (_str(address.get("addressLocality")) or "").split(",") if p.strip()]
    while parts:
        if is_country_name(parts[-1], country):
            parts.pop()
            continue
        segments = [s.strip() for s in parts[-1].split(" - ")]  # DHL Express: "LEIPZIG - GERMANY"
        if len(segments) > 1 and is_country_name(segments[-1], country):
            parts[-1] = " - ".join(segments[:-1])
            continue
        break
    if len(parts) >= 2 and country in _STATE_COUNTRIES and _STATE_CODE.match(parts[-1]):
        state = state or parts[-1]
        parts.pop()
    return Location(
        city=", ".join(parts) or None,
        postal_code=_str(address.get("postalCode")),
        state=state,
        country=country,
    )


def _zone(location: Location) -> tzinfo | None:
    locality = f"{location.city}, {location.state}" if location.state else location.city
    return zone_for(location.country, locality)


def _description(event: dict[str, Any]) -> str | None:
    status, detail = _str(event.get("status")) or "", _str(event.get("description")) or ""
    if not status or not detail:
        return status or detail or None
    if status.lower() in detail.lower():
        return detail
    if detail.lower() in status.lower():
        return status
    return f"{status}: {detail}"


def _is_return(obj: dict[str, Any]) -> bool:
    details = obj.get("details") if isinstance(obj.get("details"), dict) else {}
    return obj.get("returnFlag") is True or details.get("returnFlag") is True


def signed_by(shipment: dict[str, Any]) -> str | None:
    """Who signed for the shipment: `details.proofOfDelivery.signed` (Person: `name`, else givenName familyName)."""
    details = shipment.get("details") if isinstance(shipment.get("details"), dict) else {}
    pod = details.get("proofOfDelivery") if isinstance(details.get("proofOfDelivery"), dict) else {}
    signed = pod.get("signed")
    if isinstance(signed, str):
        return _str(signed)
    if not isinstance(signed, dict):
        return None
    full = " ".join(p for p in (_str(signed.get("givenName")), _str(signed.get("familyName"))) if p)
    return _str(signed.get("name")) or full or None


def _calibrated_offset(shipment: dict[str, Any], raw_events: list[dict[str, Any]]) -> tzinfo | None:
    """The offset DHL's naive times carry in this reply, if the reply tells.

    The shipment `status` is the latest event; when it has an explicit offset
    and an event repeats its wall-clock time without one (DHL's own spec
    example: "…07:53:47Z" vs "…07:53:47"), the naive times of this reply are
    in that offset.
    """
    latest = shipment.get("status")
    try:
        stamped = parse_iso(str(latest.get("timestamp"))) if isinstance(latest, dict) else None
    except ValueError:
        return None
    if stamped is None or stamped.tzinfo is None:
        return None
    wall = stamped.replace(tzinfo=None)
    for raw in raw_events:
        try:
            naive = parse_iso(str(raw.get("timestamp")))
        except ValueError:
            continue
        if naive.tzinfo is None and naive == wall:
            return stamped.tzinfo
    return None


def _event_zones(locations: list[Location], fallback: Location) -> list[tzinfo | None]:
    """Per event (DHL order, newest first), the zone its naive local time is read in.

    An event without an inferable zone takes the zone of the nearest older,
    else newer, event in the same country (or any, if it has no country);
    else the `fallback` place's zone; else None (UTC).
    """
    own = [_zone(loc) for loc in locations]
    zones: list[tzinfo | None] = []
    for i, loc in enumerate(locations):
        zone = own[i]
        if zone is None:
            order = list(range(i + 1, len(locations))) + list(range(i - 1, -1, -1))
            zone = next(
                (own[j] for j in order if own[j] is not None and (not loc.country or locations[j].country == loc.country)),
                None,
            )
        if zone is None and (not loc.country or loc.country == fallback.country):
            zone = _zone(fallback)
        zones.append(zone)
    return zones


def parse_shipment(tracking_number: str, shipment: dict[str, Any]) -> TrackingResult:
    """One DHL `Shipment` object (spec 1.4.1 `supermodelIoLogisticsTrackingShipment`) as a TrackingResult.

    Events come back oldest first, times in UTC: explicit offsets are
    honoured; naive times are local at the event place (see
    `_calibrated_offset`, `_event_zones`). Events without a parseable
    `timestamp` are skipped with a warning. The latest delivered event gets
    `signed_by` from the proof of delivery.
    """
    origin, destination = parse_location(shipment.get("origin")), parse_location(shipment.get("destination"))
    shipment_return = _is_return(shipment)
    listed = shipment.get("events")
    raw_events = [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []
    locations = [parse_location(e.get("location")) for e in raw_events]
    calibrated = _calibrated_offset(shipment, raw_events)
    zones = [calibrated] * len(raw_events) if calibrated else _event_zones(locations, origin)

    events: list[TrackingEvent] = []
    for raw, location, zone in reversed(list(zip(raw_events, locations, zones, strict=True))):
        try:
            occurred_at = parse_carrier_datetime(str(raw.get("timestamp") or ""), zone=zone)
        except ValueError:
            logger.warning("dhl: %s event without usable timestamp skipped: %r", tracking_number, raw.get("timestamp"))
            continue
        events.append(
            TrackingEvent(
                occurred_at=occurred_at,
                status=normalize_status(
                    raw.get("statusCode"),
                    raw.get("status"),
                    raw.get("description"),
                    return_flag=shipment_return or _is_return(raw),
                ),
                carrier_code=_str(raw.get("statusCode")),
                description=_description(raw),
                location=location,
                raw=raw,
            )
        )
    # DHL lists newest first; reversed + stable sort keeps same-second order
    events.sort(key=lambda e: e.occurred_at)
    leg = ReturnLeg(carried_back=NONE_CARRIED_BACK)  # scans on the way back keep their own status
    for index, event in enumerate(events):
        status = leg.apply(event.status)
        if status is not event.status:
            events[index] = event.model_copy(update={"status": status})

    latest = shipment.get("status") if isinstance(shipment.get("status"), dict) else None
    if latest:
        status = normalize_status(
            latest.get("statusCode"), latest.get("status"), latest.get("description"), return_flag=shipment_return
        )
        status = delivered_back(status, returning=leg.returning)
    else:
        status = events[-1].status if events else TrackingStatus.UNKNOWN

    events = sign_latest(events, signed_by(shipment))

    estimated = None
    frame = shipment.get("estimatedDeliveryTimeFrame")
    eta = shipment.get("estimatedTimeOfDelivery") or (frame.get("estimatedFrom") if isinstance(frame, dict) else None)
    if eta:
        try:
            estimated = parse_carrier_datetime(str(eta), zone=calibrated or _zone(destination))
        except ValueError:
            logger.warning("dhl: %s unparseable estimatedTimeOfDelivery %r", tracking_number, eta)

    return TrackingResult(
        tracking_number=tracking_number,
        found=True,
        status=status,
        events=events,
        estimated_delivery=estimated,
        raw=shipment,
    )


def tracking_request(tracking_number: str) -> dict[str, str]:
    """The query parameters of `GET {base}/track/shipments` for one number (spec 1.4.1 `trackingNumber`)."""
    return {"trackingNumber": tracking_number}


def parse_tracking_response(tracking_number: str, status_code: int, body: Any) -> TrackingResult:
    """A DHL `GET /track/shipments` reply (200 Shipments or 404 problem) as a TrackingResult.

    Raises CarrierBadResponse when a 200 body is not a Shipments object.
    """
    if status_code == 404:
        detail = body.get("detail") or body.get("title") if isinstance(body, dict) else None
        return TrackingResult(
            tracking_number=tracking_number,
            found=False,
            error=detail or NOT_FOUND,
            raw=body if isinstance(body, dict) else {},
        )
    if not isinstance(body, dict) or not isinstance(body.get("shipments", []), list):
        raise CarrierBadResponse("dhl", "tracking reply is not a Shipments object", status_code=status_code)
    shipments = [s for s in body.get("shipments") or [] if isinstance(s, dict)]
    if not shipments:
        return TrackingResult(tracking_number=tracking_number, found=False, error=NOT_FOUND, raw=body)
    wanted = tracking_number.replace(" ", "").upper()
    chosen = next((s for s in shipments if str(s.get("id", "")).replace(" ", "").upper() == wanted), shipments[0])
    return parse_shipment(tracking_number, chosen)


def parse_push_notification(document: Any) -> list[TrackingResult]:
    """A decoded DHL Unified Push notification as one TrackingResult per shipment, in body order.

    Shape (DHL Push guide: the tracking-response structure of spec 1.4.1, as in
    the `tracking-response-*.json` samples): `{"shipments": [Shipment, ...]}`;
    each shipment is read by `parse_shipment` with its `id` (string, or number as
    in the spec example) as the tracking number. An empty list gives [].
    Raises WebhookPayloadError when `shipments` is missing or not a list, or a
    shipment is not an object or has no `id`.
    """
    shipments = document.get("shipments") if isinstance(document, dict) else None
    if not isinstance(shipments, list):
        raise WebhookPayloadError("dhl", 'push body is not a Shipments object ({"shipments": [...]})')
    results: list[TrackingResult] = []
    for index, shipment in enumerate(shipments):
        number = shipment.get("id") if isinstance(shipment, dict) else None
        number = _str(number) or (str(number) if isinstance(number, int) and not isinstance(number, bool) else None)
        if number is None:
            raise WebhookPayloadError("dhl", f"shipments[{index}] is not a Shipment object with an id")
        results.append(parse_shipment(number, shipment))
    return results
