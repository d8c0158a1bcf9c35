"""PostNord tracking: pure functions that build Track & Trace v7 requests and parse the replies.

Carrier document followed: "PostNord Track & Trace API v7 - FindByIdentifier
- Public" OpenAPI 3.0.1, v1.0.1 (developer.postnord.com; vendored in
Joaqim/karrio @24beaf3c, saved as
`carrier-samples/postnord/openapi-track-and-trace-v7-findbyidentifier.swagger.json`).

* `GET {base}/rest/shipment/v7/trackandtrace/id/{id}/public?apikey=<key>&locale=en`;
  the spec's server is `https://atapi2.postnord.com/rest/shipment` (sandbox),
  production is `https://api2.postnord.com`. `id` is a shipment or item id,
  10-35 letters/digits (path parameter `id`).
* Reply (`ResponseDto`): `{"TrackingInformationResponse": {"shipments":
  [ShipmentDto], "compositeFault": {"faults": [{faultCode, explanationText}]}}}`;
  an unknown id gives `shipments: []` (and possibly faults); a 404 carries
  `ErrorResponse {message, compositeFault}`.
* Read: `ItemDto.events[]` (`TrackingEventDto`: eventTime, eventCode, status,
  eventDescription, location `LocationDto`), `ItemDto.acceptor.name` (who
  signed: `signed_by` of the item's delivered events), `estimatedTimeOfArrival`
  / `publicTimeOfArrival` (item, else shipment), `deliveryPoint` /
  `destinationDeliveryPoint` / `requestedDeliveryPoint` (`DeliveryPointDto`).
  LocationDto has no state/region, so `Location.state` stays None.

Times: fields with an offset are converted to UTC; PostNord also sends
local times without an offset, which are read as Europe/Stockholm time
(`POSTNORD_LOCAL_ZONE`), including for events in Denmark, Norway and Finland.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.carriers.errors import CarrierBadResponse
from app.carriers.fields import compact_id, text_of
from app.carriers.history import HANDED_OVER, latest_known_status
from app.carriers.http import GetRequest
from app.carriers.postnord.schemas import (
    CompositeFault,
    DeliveryPointDto,
    ErrorResponse,
    ItemDto,
    LocationDto,
    ResponseDto,
    ShipmentDto,
    TrackingEventDto,
)
from app.carriers.postnord.units import (
    PICKUP_STATUSES,
    normalize_status,
    place_and_country,
    status_value,
)
from app.carriers.returns import RETURN_STATUSES, ReturnLeg
from app.carriers.timezones import parse_optional_datetime
from app.carriers.types import Location, ServicePoint, TrackingEvent, TrackingResult, TrackingStatus

logger = logging.getLogger(__name__)

CARRIER = "postnord"
POSTNORD_LOCAL_ZONE = ZoneInfo("Europe/Stockholm")
"""Zone assumed for PostNord times that carry no UTC offset."""
TRACK_PATH = "/rest/shipment/v7/trackandtrace/id/{id}/public"
VALID_ID = re.compile(r"^[A-Za-z0-9]{10,35}$")
"""The spec's rule for `id`: "Valid characters: A-Z, a-z, 0-9 Length: 10-35 characters"."""
CREDENTIAL_PROBE_ID = "00000000000000000000"
"""A well-formed id that belongs to no parcel: used to check an API key cheaply."""
LOCALE = "en"
"""The `locale` asked for: event texts in English (the return-text rules in `units` read them)."""


def compact_number(number: str) -> str:
    """`number` without whitespace, as sent in the path."""
    return "".join(number.split())


def invalid_number_result(number: str) -> TrackingResult | None:
    """The found=False result for a number that breaks the spec's `id` rule (sent nowhere), else None."""
    if VALID_ID.match(compact_number(number)):
        return None
    return TrackingResult(
        tracking_number=number, found=False, error="not a PostNord id: 10-35 letters and digits expected"
    )


def build_track_request(base_url: str, number: str, api_key: str) -> GetRequest:
    """The v7 findByIdentifier request for `number` (already checked by `invalid_number_result`).

    The API key is one of the query parameters: never log the request unredacted.
    """
    return GetRequest(
        url=f"{base_url}{TRACK_PATH.format(id=compact_number(number))}",
        params={"apikey": api_key, "locale": LOCALE},
    )


def _parse_instant(value: Any) -> datetime | None:
    """An ISO-8601 date-time as aware UTC; without an offset it is Europe/Stockholm time. None if unreadable."""
    return parse_optional_datetime(value, zone=POSTNORD_LOCAL_ZONE)


def _location(raw: LocationDto | None) -> Location:
    if raw is None:
        return Location()
    city, country = place_and_country(raw.city, raw.countryCode, raw.country)
    return Location(city=city, postal_code=text_of(raw.postcode), country=country)


def _point(point: DeliveryPointDto) -> ServicePoint:
    address = point.address
    street = None
    city, country = place_and_country(point.city, point.countryCode, point.country)
    postal_code = text_of(point.postcode)
    if address is not None:
        street = ", ".join(s for s in (text_of(address.street1), text_of(address.street2)) if s) or None
        address_city, address_country = place_and_country(address.city, address.countryCode, address.country)
        city = address_city or city
        country = address_country or country
        postal_code = text_of(address.postCode) or postal_code
    return ServicePoint(
        id=text_of(point.locationId),
        name=text_of(point.displayName) or text_of(point.name),
        address=street,
        city=city,
        postal_code=postal_code,
        country=country,
    )


def _delivery_point(shipment: ShipmentDto) -> ServicePoint | None:
    """The service point the shipment goes to (`deliveryPoint`, else `destinationDeliveryPoint`,
    else the consignee's `requestedDeliveryPoint`), with its street address when given."""
    for point in (shipment.deliveryPoint, shipment.destinationDeliveryPoint, shipment.requestedDeliveryPoint):
        if point is not None and point.raw:
            return _point(point)
    return None


def _event_service_point(location: LocationDto | None, shipment: ShipmentDto) -> ServicePoint | None:
    """Where a parcel waits for pickup: the shipment's delivery point, else the event's location."""
    point = _delivery_point(shipment)
    if point is not None or location is None:
        return point
    place = _location(location)
    return ServicePoint(
        id=text_of(location.locationId),
        name=text_of(location.displayName) or text_of(location.name),
        city=place.city,
        postal_code=place.postal_code,
        country=place.country,
    )


def _collect(items: list[ItemDto]) -> list[tuple[datetime, TrackingEventDto, ItemDto]]:
    """The events of `items` with their item, oldest first, without duplicates across items."""
    collected: list[tuple[datetime, TrackingEventDto, ItemDto]] = []
    seen: set[tuple[Any, ...]] = set()
    for item in items:
        for event in item.events:
            occurred_at = _parse_instant(event.eventTime)
            if occurred_at is None:
                logger.warning("postnord: event without a readable eventTime skipped: %r", event.raw)
                continue
            location_id = event.location.locationId if event.location else None
            key = (occurred_at, event.eventCode, status_value(event.status), location_id)
            if key in seen:
                continue
            seen.add(key)
            collected.append((occurred_at, event, item))
    collected.sort(key=lambda entry: entry[0])
    return collected


def _build_events(shipment: ShipmentDto, items: list[ItemDto]) -> list[TrackingEvent]:
    """The normalized events of `items`, oldest first (see `parse_track_response`)."""
    events: list[TrackingEvent] = []
    previous: TrackingStatus | None = None
    leg = ReturnLeg()
    for occurred_at, raw, item in _collect(items):
        value = status_value(raw.status)
        description = text_of(raw.eventDescription)
        status = normalize_status(
            value, previous, text=description, what=f"event status (eventCode {raw.eventCode!r})"
        )
        status = leg.apply(status)
        is_pickup = (value or "").upper() in PICKUP_STATUSES
        signer = item.acceptor.name if item.acceptor else None
        events.append(
            TrackingEvent(
                occurred_at=occurred_at,
                status=status,
                carrier_code=text_of(raw.eventCode) or value,
                description=description,
                location=_location(raw.location),
                service_point=_event_service_point(raw.location, shipment) if is_pickup else None,
                signed_by=text_of(signer) if status in HANDED_OVER else None,
                raw=raw.raw,
            )
        )
        previous = status
    return events


def _summary_status(shipment: ShipmentDto, items: list[ItemDto]) -> TrackingStatus:
    """The status PostNord states for the item (one item asked) or the shipment, used when events say nothing."""
    sources: list[ItemDto | ShipmentDto] = [items[0]] if len(items) == 1 else []
    sources.append(shipment)
    for source in sources:
        value = status_value(source.status)
        if not value:
            continue
        text = " ".join(t for t in (text_of(source.statusText.header), text_of(source.statusText.body)) if t) if (
            source.statusText
        ) else None
        status = normalize_status(value, None, text=text, what="shipment/item status")
        if status is not TrackingStatus.UNKNOWN:
            return status
    return TrackingStatus.UNKNOWN


def _estimated_delivery(shipment: ShipmentDto, items: list[ItemDto]) -> datetime | None:
    """`estimatedTimeOfArrival`, else `publicTimeOfArrival`, of the item (one item asked) or else the shipment."""
    sources: list[ItemDto | ShipmentDto] = [*items, shipment] if len(items) == 1 else [shipment]
    for source in sources:
        for value in (source.estimatedTimeOfArrival, source.publicTimeOfArrival):
            instant = _parse_instant(value)
            if instant is not None:
                return instant
    return None


def _fault_text(fault: CompositeFault | None) -> str | None:
    texts = [text_of(f.explanationText) or text_of(f.faultCode) for f in fault.faults] if fault else []
    return "; ".join(t for t in texts if t) or None


def _select(shipments: list[ShipmentDto], number: str, *, only: bool) -> tuple[ShipmentDto, list[ItemDto]] | None:
    """The shipment and items `number` names: a shipment id (all its items) or an item id (that item)."""
    wanted = compact_id(number)
    for shipment in shipments:
        if compact_id(shipment.shipmentId) == wanted:
            return shipment, shipment.items
        hits = [i for i in shipment.items if compact_id(i.itemId) == wanted]
        if hits:
            return shipment, hits
    if only and len(shipments) == 1:
        # One id asked, one shipment back, ids spelt differently (e.g. a reference): it is the answer.
        return shipments[0], shipments[0].items
    return None


def parse_track_response(payload: dict[str, Any], requested: list[str]) -> list[TrackingResult]:
    """Parse a Track & Trace v7 reply (`ResponseDto`) into one result per requested id, in order.

    A shipment id collects the events of all its items; an item id those of
    that item. TrackingResult.status is the latest event's status, or the
    item/shipment `status` when there is no event or the latest is unknown.
    Returns: RETURNED / DELIVERY_REFUSED are RETURN_TO_SENDER (not final)
    unless the text says the parcel is back at the sender; after a return
    starts, transit scans stay RETURN_TO_SENDER and DELIVERED is RETURNED
    (`app.carriers.returns.ReturnLeg`). Delivered events carry the item's `acceptor.name` as
    `signed_by`. The estimate is dropped once delivered (TrackingResult) or
    on the way back (`returns.RETURN_STATUSES`). A country name in `city` is not a
    city. An id matching no shipment gives found=False with PostNord's fault text.

    Raises CarrierBadResponse if the payload has no `TrackingInformationResponse` object.
    """
    reply = ResponseDto.model_validate(payload)
    info = reply.TrackingInformationResponse
    if info is None:
        raise CarrierBadResponse(CARRIER, "reply has no TrackingInformationResponse object")
    not_found_text = _fault_text(info.compositeFault) or "No shipment found"

    results: list[TrackingResult] = []
    for number in requested:
        selected = _select(info.shipments, number, only=len(requested) == 1)
        if selected is None:
            results.append(TrackingResult(tracking_number=number, found=False, error=not_found_text, raw=info.raw))
            continue
        shipment, items = selected
        events = _build_events(shipment, items)
        status = latest_known_status(events) or _summary_status(shipment, items)
        service_point = next((e.service_point for e in reversed(events) if e.service_point), None)
        results.append(
            TrackingResult(
                tracking_number=number,
                found=True,
                status=status,
                events=events,
                estimated_delivery=None if status in RETURN_STATUSES else _estimated_delivery(shipment, items),
                service_point=service_point or _delivery_point(shipment),
                raw=shipment.raw,
            )
        )
    return results


def parse_not_found_reply(payload: Any, number: str) -> TrackingResult:
    """A 404 reply: a tracking reply is parsed as such; PostNord's `ErrorResponse` means the id is unknown.

    Raises CarrierBadResponse when the body is neither.
    """
    if isinstance(payload, dict) and isinstance(payload.get("TrackingInformationResponse"), dict):
        return parse_track_response(payload, [number])[0]
    if isinstance(payload, dict) and ("message" in payload or "compositeFault" in payload):
        error = ErrorResponse.model_validate(payload)
        text = _fault_text(error.compositeFault) or text_of(error.message) or "No shipment found"
        return TrackingResult(tracking_number=number, found=False, error=text, raw=payload)
    raise CarrierBadResponse(CARRIER, "HTTP 404 without a PostNord error body", status_code=404)


def parse_track_reply(status_code: int, payload: Any, number: str) -> TrackingResult:
    """The result for `number` from one findByIdentifier reply (HTTP 200 or 404, JSON already decoded).

    Raises CarrierBadResponse when the reply is not a PostNord tracking or error body.
    """
    if status_code == 404:
        return parse_not_found_reply(payload, number)
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "reply is not a JSON object", status_code=status_code)
    return parse_track_response(payload, [number])[0]
