"""Bring tracking: pure functions that build Tracking API v2 requests and parse its replies and Event Cast pushes.

Carrier documents followed:

* Tracking API v2, RAML `content/api/tracking/api.raml` and its JSON examples
  from bring/developer-site @4ce29efa (saved in `carrier-samples/bring/`:
  `tracking-api-v2.raml`, `tracking-*.json`).
  `GET {base}/tracking/api/v2/tracking.json?q=<number>&lang=en` with the
  Mybring headers `X-Mybring-API-Uid`, `X-Mybring-API-Key` and
  `X-Bring-Client-URL`. Errors come inside `consignmentSet[].error`
  (`{code, message[, system]}`); the "too busy" reply wraps the same shape
  in `{"shipments": [...]}`.
* Event Cast API callback example, `content/api/event-cast/index.md`
  @fdc29313 (`event-cast-webhook-in-transit.json`): `{status, id, shipment,
  package, created, pushed}`, UTC timestamps like `2019-03-16T14:58:48+0000`.

Read per event (RAML type `Event`): `status` (units), `description` (HTML
stripped, `descriptions`), `recipientSignature.name` (signed_by of delivered
events), `unitId` + `postalCode`/`city`/`countryCode`/`country` (the RAML has
no state/region: `Location.state` stays None; a country name in `city` is
no city). Per package: `dateOfEstimatedDelivery` + `estimatedTimeSpanOfDelivery`,
`expectedPickupUnitId`/`expectedPickupUnitName`.

Times: `dateIso` carries its offset and is converted to UTC; when only the
display date/time (or an ETA date) is given it is read as Europe/Oslo time.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from app.carriers.bring.descriptions import pickup_point_name, plain_description
from app.carriers.bring.schemas import (
    Consignment,
    ConsignmentError,
    Event,
    EventCastCallback,
    Package,
    TrackingReply,
)
from app.carriers.bring.units import normalize_event_status, place_and_country
from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierRateLimited, CarrierUnavailable
from app.carriers.fields import compact_id, text_of
from app.carriers.history import HANDED_OVER
from app.carriers.http import GetRequest
from app.carriers.returns import RETURN_STATUSES, ReturnLeg
from app.carriers.timezones import parse_optional_datetime
from app.carriers.types import Location, ServicePoint, TrackingEvent, TrackingResult, TrackingStatus

logger = logging.getLogger(__name__)

CARRIER = "bring"
BRING_LOCAL_ZONE = ZoneInfo("Europe/Oslo")
"""Zone assumed for Bring times that carry no offset (display date/time, ETA date)."""
TRACKING_PATH = "/tracking/api/v2/tracking.json"
LANGUAGE = "en"
"""The `lang` asked for (RAML: en, no, sv, dk): English texts."""
NOT_FOUND_CODES = frozenset({400, 404})
"""Consignment-level error codes that concern the query itself: the number is reported as not found."""
PICKUP_STATUS = "READY_FOR_PICKUP"


def build_track_request(base_url: str, number: str) -> GetRequest:
    """`GET {base}/tracking/api/v2/tracking.json?q=<number>&lang=en` (RAML query parameters `q`, `lang`).

    The Mybring headers are added by the adapter.
    """
    return GetRequest(url=f"{base_url}{TRACKING_PATH}", params={"q": number, "lang": LANGUAGE})


def _parse_instant(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as aware UTC; no offset means Europe/Oslo. None if unparsable."""
    return parse_optional_datetime(value, zone=BRING_LOCAL_ZONE)


def _parse_display(date_text: Any, time_text: Any = None) -> datetime | None:
    """Bring's `dd.mm.yyyy` (+ optional `HH:MM`) in Europe/Oslo, as aware UTC."""
    date_value = text_of(date_text)
    if date_value is None:
        return None
    try:
        day = datetime.strptime(date_value, "%d.%m.%Y").date()
        clock = datetime.strptime(text_of(time_text), "%H:%M").time() if text_of(time_text) else time(0, 0)
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=BRING_LOCAL_ZONE).astimezone(timezone.utc)


def _location(event: Event) -> Location:
    city, country = place_and_country(event.city, event.countryCode, event.country)
    return Location(city=city, postal_code=text_of(event.postalCode), country=country)


def _service_point(event: Event, package: Package, status: str | None) -> ServicePoint | None:
    """The pickup point an event names.

    A READY_FOR_PICKUP event's unit (id, postal code, city) is the pickup
    point; its name is `expectedPickupUnitName` when `expectedPickupUnitId`
    is that unit, else the name the description gives ("can be collected at
    <name>"). Any other event whose description names a pickup point gets
    a point with that name only (its unit is not the pickup point).
    """
    named = pickup_point_name(event.description)
    if status != PICKUP_STATUS:
        return ServicePoint(name=named) if named else None
    unit_id = text_of(event.unitId)
    name = None
    if unit_id and unit_id == text_of(package.expectedPickupUnitId):
        name = text_of(package.expectedPickupUnitName)
    location = _location(event)
    return ServicePoint(
        id=unit_id,
        name=name or named,
        city=location.city,
        postal_code=location.postal_code,
        country=location.country,
    )


def _expected_pickup_point(package: Package) -> ServicePoint | None:
    unit_id = text_of(package.expectedPickupUnitId)
    name = text_of(package.expectedPickupUnitName)
    if unit_id is None and name is None:
        return None
    return ServicePoint(id=unit_id, name=name)


def _estimated_delivery(package: Package) -> datetime | None:
    """The latest moment of Bring's delivery promise, as aware UTC.

    `dateOfEstimatedDelivery` (dd.mm.yyyy, Oslo) with the end of
    `estimatedTimeSpanOfDelivery` when given, else the end of that day;
    a time span without a date gives None.
    """
    span = package.estimatedTimeSpanOfDelivery
    end = text_of(span.endTime) if span else None
    if end:
        return _parse_display(package.dateOfEstimatedDelivery, end)
    start_of_day = _parse_display(package.dateOfEstimatedDelivery)
    return start_of_day + timedelta(days=1, seconds=-1) if start_of_day else None


def _collect(packages: list[Package]) -> list[tuple[datetime, Event, Package]]:
    """All events of `packages` with their package, oldest first, de-duplicated (consignment events repeat)."""
    collected: list[tuple[datetime, Event, Package]] = []
    seen: set[tuple[Any, ...]] = set()
    for package in packages:
        # Bring lists newest first; reverse so the stable sort keeps Bring's order for equal times.
        for event in reversed(package.eventSet):
            occurred_at = _parse_instant(event.dateIso) or _parse_display(event.displayDate, event.displayTime)
            if occurred_at is None:
                logger.warning("bring: event without a readable time skipped: %r", event.raw)
                continue
            key = (occurred_at, event.status, event.description, event.unitId)
            if key in seen:
                continue
            seen.add(key)
            collected.append((occurred_at, event, package))
    collected.sort(key=lambda entry: entry[0])
    return collected


def _build_events(packages: list[Package]) -> list[TrackingEvent]:
    """The normalized events of `packages`, oldest first (see `parse_track_response`)."""
    events: list[TrackingEvent] = []
    previous: TrackingStatus | None = None
    leg = ReturnLeg()
    for occurred_at, event, package in _collect(packages):
        code = text_of(event.status)
        status = leg.apply(normalize_event_status(code, previous))
        signer = event.recipientSignature.name if event.recipientSignature else None
        events.append(
            TrackingEvent(
                occurred_at=occurred_at,
                status=status,
                carrier_code=code,
                description=plain_description(event.description),
                location=_location(event),
                service_point=_service_point(event, package, code),
                signed_by=text_of(signer) if status in HANDED_OVER else None,
                raw=event.raw,
            )
        )
        previous = status
    return events


def _consignments(payload: dict[str, Any]) -> list[Consignment]:
    """The consignment objects of either envelope (`consignmentSet` or `shipments[].consignmentSet`).

    Raises CarrierBadResponse when the payload has neither list.
    """
    if not isinstance(payload.get("consignmentSet"), list) and not isinstance(payload.get("shipments"), list):
        raise CarrierBadResponse(CARRIER, "tracking response has neither consignmentSet nor shipments")
    reply = TrackingReply.model_validate(payload)
    if reply.consignmentSet is not None and isinstance(payload.get("consignmentSet"), list):
        return reply.consignmentSet
    return [c for envelope in reply.shipments or [] for c in envelope.consignmentSet or []]


def _raise_for_consignment_error(error: ConsignmentError | None) -> None:
    """Raise the typed error for a consignment error that is not about the query (400/404)."""
    error = error or ConsignmentError()
    code = error.code_number()
    if code in NOT_FOUND_CODES:
        return
    message = f"{error.system or 'tracking'}: {error.message or 'error'} (code {error.code})"
    if code is not None and code >= 500:
        raise CarrierUnavailable(CARRIER, message, status_code=code)
    if code in (401, 403):
        raise CarrierAuthError(CARRIER, message, status_code=code)
    if code == 429:
        raise CarrierRateLimited(CARRIER, message)
    raise CarrierBadResponse(CARRIER, message, status_code=code)


def _latest_service_point(events: list[TrackingEvent]) -> ServicePoint | None:
    """The latest READY_FOR_PICKUP event's point (it has the unit), else the latest point a text named."""
    pickups = [e.service_point for e in events if e.service_point and e.carrier_code == PICKUP_STATUS]
    if pickups:
        return pickups[-1]
    return next((e.service_point for e in reversed(events) if e.service_point), None)


def _result(number: str, consignments: list[Consignment], packages: list[Package]) -> TrackingResult:
    events = _build_events(packages)
    status = events[-1].status if events else TrackingStatus.UNKNOWN
    service_point = _latest_service_point(events)
    if service_point is None:
        service_point = next((sp for p in packages if (sp := _expected_pickup_point(p))), None)
    estimated = None
    if status not in RETURN_STATUSES:
        estimated = next((eta for p in packages if (eta := _estimated_delivery(p))), None)
    raw = consignments[0].raw if len(consignments) == 1 else {"consignmentSet": [c.raw for c in consignments]}
    return TrackingResult(
        tracking_number=number,
        found=True,
        status=status,
        events=events,
        estimated_delivery=estimated,
        service_point=service_point,
        raw=raw,
    )


def parse_track_response(payload: dict[str, Any], requested: list[str]) -> list[TrackingResult]:
    """Parse a Tracking API v2 JSON reply into one result per requested number, in order.

    A number matches a package (`packageNumber`) or a whole consignment
    (`consignmentId`, all its packages); when a single number was asked and
    nothing matches by id (a reference search), every returned package
    belongs to it. Consignment errors with code 400/404 ("Invalid query",
    "No shipments found") give found=False with Bring's message.
    Event descriptions come as plain text; RETURN is RETURN_TO_SENDER (not
    final), DELIVERED_SENDER and a DELIVERED after a RETURN are RETURNED;
    delivered events carry `recipientSignature.name` as `signed_by`; the
    estimate is dropped once delivered or on the way back.

    Raises (when no consignment came back, for an error not about the query):
        CarrierUnavailable: code >= 500 (Bring's "too busy" 503 and
            "Error getting track & trace information" 500).
        CarrierAuthError: code 401/403. CarrierRateLimited: code 429.
        CarrierBadResponse: any other error code, or a payload that is not
            a tracking reply.
    """
    consignments = _consignments(payload)
    errors = [c.error for c in consignments if c.is_error]
    found = [c for c in consignments if not c.is_error]
    if not found:
        # Only a reply with nothing usable fails the whole call.
        for error in errors:
            _raise_for_consignment_error(error)
    error_text = "; ".join(
        (e.message if e and e.message else f"code {e.code if e else None}") for e in errors
    ) or "No shipments found"

    results: list[TrackingResult] = []
    for number in requested:
        wanted = compact_id(number)
        matched: list[Consignment] = []
        packages: list[Package] = []
        for consignment in found:
            if compact_id(consignment.consignmentId) == wanted:
                hits = consignment.packageSet
            else:
                hits = [p for p in consignment.packageSet if compact_id(p.packageNumber) == wanted]
            if hits:
                matched.append(consignment)
                packages.extend(hits)
        if not packages and len(requested) == 1:
            matched = found
            packages = [p for c in found for p in c.packageSet]
        if packages:
            results.append(_result(number, matched, packages))
        else:
            results.append(TrackingResult(tracking_number=number, found=False, error=error_text, raw=payload))
    return results


def parse_event_cast(payload: dict[str, Any]) -> list[TrackingResult]:
    """Parse one Event Cast callback body into one single-event result.

    The result's tracking number is the package number (`package`), else
    the shipment number (`shipment`); both stay in `raw`. Event Cast sends
    no history, no place and no text: the event has only time and status
    (an informational status such as NOTIFICATION_SENT gives UNKNOWN, as
    there is no earlier event to keep the status of; RETURN gives
    RETURN_TO_SENDER, DELIVERED_SENDER RETURNED).

    Raises CarrierBadResponse if the body has no number, status or readable `created` time.
    """
    callback = EventCastCallback.model_validate(payload)
    number = text_of(callback.package) or text_of(callback.shipment)
    code = text_of(callback.status)
    occurred_at = _parse_instant(callback.created)
    if number is None or code is None or occurred_at is None:
        raise CarrierBadResponse(CARRIER, "Event Cast body lacks package/shipment, status or created")
    status = normalize_event_status(code, None)
    event = TrackingEvent(occurred_at=occurred_at, status=status, carrier_code=code, raw=payload)
    return [TrackingResult(tracking_number=number, found=True, status=status, events=[event], raw=payload)]
