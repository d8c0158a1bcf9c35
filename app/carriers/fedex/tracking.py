"""FedEx Track API v1: the tracking request body and the parsing of its replies (pure functions).

Documents followed (copies in `carrier-samples/fedex/`):

* `openapi-track-api-v1.json` — FedEx's OpenAPI 3 for the Track API
  ("Basic Integrated Visibility" 1.0.0): `POST /track/v1/trackingnumbers`,
  `trackingInfo` at most 30 items, reply `output.completeTrackResults[].trackResults[]`
  with `scanEvents[]` (`ScanEvent`), `latestStatusDetail` (`StatusDetail`),
  `deliveryDetails` (`DeliveryDetails`: `receivedByName`, `signedByName`),
  addresses as `AddressVO1` (`city`, `stateOrProvinceCode`, `postalCode`,
  `countryCode`, `countryName`); error envelope `{transactionId, errors: [{code, message}]}`;
* `reference-fedex-tracking-status-codes.html` — the scan-code table, mapped
  in `app.carriers.fedex.units`.

A number FedEx does not know comes back inside an HTTP 200:
`completeTrackResults[].trackResults[].error.code =
TRACKING.TRACKINGNUMBER.NOTFOUND` -> `TrackingResult(found=False)`.

Times: FedEx sends ISO 8601 with an offset ("2024-08-20T12:41:57-04:00"),
but some values have none ("2024-08-15T00:00:00", a pickup date). Such a
naive time is read in the UTC offset of the nearest event of the same
package that has one (FedEx scans carry the facility's local offset), else
as UTC.

Places: `Location.state` is `stateOrProvinceCode`. FedEx sometimes puts the
country's name where the city goes (a scan with no city); a `city` equal to
the address's `countryName` or to the English name of any country is
dropped, never reported as a city.

Delivery: the person FedEx names in `deliveryDetails.receivedByName` (else
`signedByName`) is the `signed_by` of the delivery event; a delivered result
has no `estimated_delivery` (`TrackingResult` drops it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from app.carriers.errors import CarrierBadResponse
from app.carriers.fedex.errors import errors_text, parse_errors
from app.carriers.fedex.units import fedex_status, is_informational, returned_status
from app.carriers.fields import text_of
from app.carriers.history import latest_known_status, sign_latest
from app.carriers.places import ENGLISH, EVERY_TERRITORY, city_unless_country
from app.carriers.returns import NONE_CARRIED_BACK, ReturnLeg, delivered_back
from app.carriers.types import Location, ServicePoint, TrackingEvent, TrackingResult, TrackingStatus

logger = logging.getLogger(__name__)

CARRIER = "fedex"
TRACK_PATH = "/track/v1/trackingnumbers"
MAX_TRACKING_NUMBERS = 30
"""`trackingInfo` "Maximum limit is 30" (Track API OpenAPI, Full_Schema_Tracking_Numbers)."""


# --------------------------------------------------------------------------- request


def build_track_request(tracking_numbers: Sequence[str]) -> dict[str, Any]:
    """The JSON body of `POST /track/v1/trackingnumbers` for 1..30 tracking numbers, detailed scans on.

    Raises ValueError for no numbers or more than `MAX_TRACKING_NUMBERS`.
    """
    if not tracking_numbers or len(tracking_numbers) > MAX_TRACKING_NUMBERS:
        raise ValueError(f"FedEx tracks 1..{MAX_TRACKING_NUMBERS} numbers per request, got {len(tracking_numbers)}")
    return {
        "includeDetailedScans": True,
        "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": number}} for number in tracking_numbers],
    }


# --------------------------------------------------------------------------- response


def _parse_time(value: Any) -> datetime | None:
    """An ISO 8601 date/date-time as sent by FedEx, possibly naive; None if absent or unparseable."""
    text = text_of(value)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        logger.warning("fedex: unparseable date-time %r", text)
        return None


def _offset_of(value: datetime | None) -> timedelta | None:
    return value.utcoffset() if value is not None and value.tzinfo is not None else None


def _localize(times: list[datetime | None]) -> list[datetime | None]:
    """Give each naive time the UTC offset of the nearest aware time in the list (ties: the earlier index), else UTC."""
    offsets = [_offset_of(t) for t in times]
    known = [i for i, offset in enumerate(offsets) if offset is not None]
    result: list[datetime | None] = []
    for i, value in enumerate(times):
        if value is None or value.tzinfo is not None:
            result.append(value)
            continue
        if known:
            nearest = min(known, key=lambda k: (abs(k - i), k))
            tz = timezone(offsets[nearest])  # type: ignore[arg-type]
        else:
            logger.info("fedex: date-time %s has no offset and no event offset to borrow; read as UTC", value)
            tz = timezone.utc
        result.append(value.replace(tzinfo=tz))
    return result


def _city(address: Mapping[str, Any]) -> str | None:
    """`address.city`, unless it is `countryName` or any English country name (FedEx puts one there when it has no city)."""
    return city_unless_country(
        address.get("city"), ENGLISH, exclude=EVERY_TERRITORY, also=(address.get("countryName"),)
    )


def _location(address: Any) -> Location:
    """An `AddressVO1` (scanLocation) as a Location: city (never a country name), postal code, state, country."""
    if not isinstance(address, Mapping):
        return Location()
    return Location(
        city=_city(address),
        postal_code=text_of(address.get("postalCode")),
        state=text_of(address.get("stateOrProvinceCode")),
        country=text_of(address.get("countryCode")),
    )


def _service_point(hold: Any) -> ServicePoint | None:
    """The Hold-at-Location place (`holdAtLocation`), if FedEx names one."""
    if not isinstance(hold, Mapping):
        return None
    contact_address = hold.get("locationContactAndAddress") or {}
    address = contact_address.get("address") or {}
    contact = contact_address.get("contact") or {}
    lines = [line.strip() for line in address.get("streetLines") or [] if isinstance(line, str)]
    street = " ".join(line for line in lines if line)
    point = ServicePoint(
        id=text_of(hold.get("locationId")),
        name=text_of(contact.get("companyName")),
        address=street or None,
        city=text_of(address.get("city")),
        postal_code=text_of(address.get("postalCode")),
        country=text_of(address.get("countryCode")),
    )
    return point if point != ServicePoint() else None


def _description(scan: Mapping[str, Any]) -> str | None:
    description = text_of(scan.get("eventDescription")) or text_of(scan.get("derivedStatus"))
    exception = text_of(scan.get("exceptionDescription"))
    if exception and exception != description:
        return f"{description}: {exception}" if description else exception
    return description


def _signed_by(track: Mapping[str, Any]) -> str | None:
    """Who took the package: `deliveryDetails.receivedByName`, else `signedByName`."""
    details = track.get("deliveryDetails")
    if not isinstance(details, Mapping):
        return None
    return text_of(details.get("receivedByName")) or text_of(details.get("signedByName"))


def _events(scans: list[Any], *, signed_by: str | None = None) -> list[TrackingEvent]:
    """FedEx `scanEvents` (newest first) as normalized events, oldest first.

    `signed_by` goes on the newest delivery (DELIVERED or RETURNED) event.
    """
    scans = [scan for scan in reversed(scans) if isinstance(scan, Mapping)]
    times = _localize([_parse_time(scan.get("date")) for scan in scans])
    dated = [(when, scan) for when, scan in zip(times, scans, strict=True) if when is not None]
    if len(dated) < len(scans):
        logger.warning("fedex: skipped %d scan event(s) without a usable date", len(scans) - len(dated))
    dated.sort(key=lambda pair: pair[0])  # stable: same-second scans keep FedEx's order
    events: list[TrackingEvent] = []
    leg = ReturnLeg(carried_back=NONE_CARRIED_BACK)  # scans on the way back keep their own status
    for when, scan in dated:
        event_type = text_of(scan.get("eventType"))
        status, _ = fedex_status(event_type, text_of(scan.get("derivedStatusCode")), text_of(scan.get("exceptionCode")))
        description = _description(scan)
        status = returned_status(status, description)
        if events and is_informational(event_type):
            status = events[-1].status
        status = leg.apply(status)
        events.append(
            TrackingEvent(
                occurred_at=when,
                status=status,
                carrier_code=event_type or text_of(scan.get("derivedStatusCode")),
                description=description,
                location=_location(scan.get("scanLocation")),
                raw=dict(scan),
            )
        )
    return sign_latest(events, signed_by)


def _estimated_delivery(track: Mapping[str, Any], events: list[TrackingEvent]) -> datetime | None:
    """FedEx's delivery estimate in UTC.

    Taken from the estimated delivery window, else the ESTIMATED_DELIVERY
    date, else the standard transit window.

    Of a window the end is used (the latest promised time), else its begin. A
    naive value is read in the offset of the newest scan that has one
    (the estimate is local to the destination), else as UTC.
    """
    estimated = (track.get("estimatedDeliveryTimeWindow") or {}).get("window") or {}
    standard = (track.get("standardTransitTimeWindow") or {}).get("window") or {}
    candidates: list[Any] = [estimated.get("ends"), estimated.get("begins")]
    candidates += [
        item.get("dateTime")
        for item in track.get("dateAndTimes") or []
        if isinstance(item, Mapping) and item.get("type") == "ESTIMATED_DELIVERY"
    ]
    candidates += [standard.get("ends"), standard.get("begins")]
    for candidate in candidates:
        value = _parse_time(candidate)
        if value is None:
            continue
        if value.tzinfo is None:
            offsets = [_offset_of(_parse_time(event.raw.get("date"))) for event in reversed(events)]
            offset = next((o for o in offsets if o is not None), timedelta(0))
            value = value.replace(tzinfo=timezone(offset))
        return value.astimezone(timezone.utc)
    return None


def _has_data(track: Mapping[str, Any]) -> bool:
    return bool(track.get("scanEvents") or track.get("latestStatusDetail"))


def _error_text(error: Any) -> str:
    if not isinstance(error, Mapping):
        return "tracking number not found"
    code, message = text_of(error.get("code")), text_of(error.get("message"))
    return ": ".join(part for part in (code, message) if part) or "tracking number not found"


def _parse_complete_result(complete: Mapping[str, Any]) -> TrackingResult:
    number = text_of(complete.get("trackingNumber")) or ""
    tracks = [t for t in complete.get("trackResults") or [] if isinstance(t, Mapping)]
    usable = [t for t in tracks if _has_data(t)]
    if not usable:
        error = next((t.get("error") for t in tracks if t.get("error")), None)
        raw = dict(tracks[0]) if tracks else dict(complete)
        if not number and tracks:
            number = text_of((tracks[0].get("trackingNumberInfo") or {}).get("trackingNumber")) or ""
        return TrackingResult(tracking_number=number, found=False, error=_error_text(error), raw=raw)

    # Duplicate tracking numbers give several trackResults: keep the one with the newest scan.
    parsed = [(track, _events(list(track.get("scanEvents") or []), signed_by=_signed_by(track))) for track in usable]
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    track, events = max(parsed, key=lambda pair: pair[1][-1].occurred_at if pair[1] else epoch)
    if not number:
        number = text_of((track.get("trackingNumberInfo") or {}).get("trackingNumber")) or ""

    latest = track.get("latestStatusDetail") or {}
    shipment_status, _ = (
        fedex_status(text_of(latest.get("code")), text_of(latest.get("derivedCode")))
        if latest
        else (TrackingStatus.UNKNOWN, False)
    )
    shipment_status = delivered_back(
        returned_status(shipment_status, text_of(latest.get("description")) or text_of(latest.get("statusByLocale"))),
        returning=any(event.status == TrackingStatus.RETURN_TO_SENDER for event in events),
    )
    status = latest_known_status(events) or shipment_status
    return TrackingResult(
        tracking_number=number,
        found=True,
        status=status,
        events=events,
        estimated_delivery=_estimated_delivery(track, events),
        service_point=_service_point(track.get("holdAtLocation")),
        raw=dict(track),
    )


def parse_track_response(payload: Mapping[str, Any]) -> list[TrackingResult]:
    """Parse a 200 reply of `POST /track/v1/trackingnumbers` into one result per `completeTrackResults` entry.

    Each result carries the requested number (`completeTrackResults[].trackingNumber`);
    a number FedEx reports only with an `error` (e.g. TRACKING.TRACKINGNUMBER.NOTFOUND)
    gives `found=False` and `error="<code>: <message>"`. Events are oldest first,
    in UTC; `status` is the newest event's status, or `latestStatusDetail`'s when
    there are no events or the newest one is unknown.

    Raises CarrierBadResponse if the payload has no `output.completeTrackResults` list.
    """
    output = payload.get("output") if isinstance(payload, Mapping) else None
    completes = output.get("completeTrackResults") if isinstance(output, Mapping) else None
    if not isinstance(completes, list):
        errors = errors_text(parse_errors(payload))
        raise CarrierBadResponse(CARRIER, f"track reply has no output.completeTrackResults {errors}".strip())
    return [_parse_complete_result(c) for c in completes if isinstance(c, Mapping)]


def result_for(number: str, found: Mapping[str, TrackingResult]) -> TrackingResult:
    """The result for requested `number` among parsed results keyed by FedEx's number (case-insensitive match).

    A number FedEx did not answer for gives `found=False`. Blank numbers are
    the caller's (`blank_number_result`).
    """
    result = found.get(number) or next((r for n, r in found.items() if n.upper() == number.upper()), None)
    if result is None:
        return TrackingResult(tracking_number=number, found=False, error="FedEx returned no result for this number")
    return result.model_copy(update={"tracking_number": number})
