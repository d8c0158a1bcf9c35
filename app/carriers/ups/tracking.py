"""UPS tracking: build Track API requests, parse Track API replies and Track Alert pushes (pure functions).

Documents followed (copies in `carrier-samples/ups/`, UPS-API/api-documentation @ e6f36df4):

* `openapi-tracking.yaml` — "UPS TrackService API": `GET /api/track/v1/details/{inquiryNumber}`
  (one inquiry number per request, 7..34 characters); the reply
  `trackResponse.shipment[].package[]` with `activity[]` (newest first, schema
  `Activity`: `date`/`time`, `gmtDate`/`gmtTime`/`gmtOffset`, `location.address`
  {city, stateProvince, postalCode, countryCode, country}, `status` {type,
  code, statusCode, description}), `currentStatus`, `deliveryDate[]`,
  `deliveryTime`, `deliveryInformation.receivedBy`;
* `openapi-track-alert.yaml` — the Track Alert `webhooks.TrackingEvent` body;
* the status tables in `app.carriers.ups.units`.

"Not found" arrives as HTTP 404 with an errors body, or as HTTP 200 with
`trackResponse.shipment[].warnings[]` code TW0001; 400 TV1002 ("Invalid
inquiry number") is also a per-number answer. All three give `found=False`.

Times: an activity's `gmtDate`+`gmtTime` (HHMMSS, UPS may drop the leading
zero: "74700") are UTC and used when present. Otherwise `date`+`time` are the
LOCAL time of the activity's place, read with, in this order: the activity's
`gmtOffset` ("-05:00"; Track Alert writes "-04.00"); the time zone of its
place (`stateProvince` for the US, Canada and Australia, else the country,
`app.carriers.timezones` and `units.STATE_ZONES`); the offset of the nearest
activity of the same package whose offset is known; else — UPS gave no clue
at all — as if it were UTC (then off by the local offset).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.carriers.errors import CarrierBadResponse
from app.carriers.fields import code_message_pairs, code_message_text, text_of
from app.carriers.history import latest_known_status, sign_latest
from app.carriers.places import ENGLISH, EVERY_TERRITORY, alpha2, city_unless_country, country_from_name
from app.carriers.timezones import zone_for
from app.carriers.types import Location, TrackingEvent, TrackingResult, TrackingStatus
from app.carriers.ups.units import STATE_ZONES, is_informational, ups_status

logger = logging.getLogger(__name__)

CARRIER = "ups"
TRACK_PATH = "/api/track/v1/details/"
NOT_FOUND_CODES = frozenset({"TW0001", "TV1002"})
"""Warning/error codes meaning UPS has no tracking data for that number."""
_DELIVERED = frozenset({TrackingStatus.DELIVERED})
"""The statuses `deliveryInformation.receivedBy` signs: a DELIVERED event only (not RETURNED)."""


def build_track_request(inquiry_number: str, *, locale: str = "en_US") -> tuple[str, dict[str, str]]:
    """The path (inquiry number URL-escaped) and query of `GET /api/track/v1/details/{inquiryNumber}`.

    Signature, milestones and proof of delivery are not requested.
    """
    path = TRACK_PATH + quote(inquiry_number, safe="")
    params = {"locale": locale, "returnSignature": "false", "returnMilestones": "false", "returnPOD": "false"}
    return path, params


def errors_text(errors: list[tuple[str, str]]) -> str:
    """`code: message; code: message` of UPS `(code, message)` pairs ("" for none)."""
    return code_message_text(errors)


# --------------------------------------------------------------------------- places


def _country_code(address: Mapping[str, Any]) -> str | None:
    """`countryCode`, else `country`: a 2-letter code, or the code of an English country name."""
    for value in (address.get("countryCode"), address.get("country")):
        code = alpha2(value) or country_from_name(value, ENGLISH, exclude=EVERY_TERRITORY)
        if code:
            return code
    return None


def location_of(address: Any) -> Location:
    """A Track API `location.address` or Track Alert `activityLocation` as a Location.

    `state` is `stateProvince`; `country` is `countryCode`, else a 2-letter
    `country`, else the code of an English country name; a `city` that is only
    a country's name or code (UPS writes "UNITED STATES" there at times) is dropped.
    """
    if not isinstance(address, Mapping):
        return Location()
    country = _country_code(address)
    return Location(
        city=city_unless_country(
            address.get("city"), ENGLISH, exclude=EVERY_TERRITORY, also=(country, address.get("country"))
        ),
        postal_code=text_of(address.get("postalCode")),
        state=text_of(address.get("stateProvince")),
        country=country,
    )


@lru_cache(maxsize=64)
def _named_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("ups: time zone %s not in the tz database; reading the time as UTC", name)
        return None


def _place_zone(location: Location) -> ZoneInfo | None:
    """The IANA zone of an activity place, or None (see the module docstring)."""
    country, state = location.country, (location.state or "").strip().upper()
    if country is None:
        return None
    if country == "US":
        return zone_for("US", f", {state}") if state else None
    if country in STATE_ZONES:
        name = STATE_ZONES[country].get(state)
        return _named_zone(name) if name else None
    return zone_for(country)


# --------------------------------------------------------------------------- times


def _naive(date: Any, time: Any) -> datetime | None:
    """`YYYYMMDD` + `HHMMSS` (leading zeros optional; time may be absent) as a naive datetime."""
    day = text_of(date)
    if day is None or not re.fullmatch(r"\d{8}", day):
        return None
    clock = text_of(time) or "000000"
    if not clock.isdigit() or len(clock) > 6:
        return None
    try:
        return datetime.strptime(day + clock.zfill(6), "%Y%m%d%H%M%S")
    except ValueError:
        return None


def _offset(value: Any) -> timedelta | None:
    """A UPS `gmtOffset` ("-05:00", "-04.00", "+0100") as a timedelta."""
    match = re.fullmatch(r"([+-])(\d{1,2})[:.]?(\d{2})", text_of(value) or "")
    if match is None:
        return None
    sign = -1 if match.group(1) == "-" else 1
    return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))


def _activity_location(activity: Mapping[str, Any]) -> Location:
    location = activity.get("location")
    return location_of(location.get("address") if isinstance(location, Mapping) else None)


def activity_offset(activity: Mapping[str, Any]) -> timedelta | None:
    """The local UTC offset of one Track API activity, or None when UPS gives no clue.

    Its `gmtOffset`, else local time minus GMT time, else the offset of its
    place's time zone at that local time.
    """
    offset = _offset(activity.get("gmtOffset"))
    gmt = _naive(activity.get("gmtDate"), activity.get("gmtTime"))
    local = _naive(activity.get("date"), activity.get("time"))
    if offset is None and gmt is not None and local is not None:
        offset = timedelta(minutes=round((local - gmt).total_seconds() / 60))
    if offset is None and local is not None:
        zone = _place_zone(_activity_location(activity))
        if zone is not None:
            offset = local.replace(tzinfo=zone).utcoffset()
    return offset


def activity_times(activities: list[Mapping[str, Any]]) -> list[datetime | None]:
    """Aware UTC times for Track API activities (one package's), same order; None where there is no date."""
    utc = [_naive(a.get("gmtDate"), a.get("gmtTime")) for a in activities]
    local = [_naive(a.get("date"), a.get("time")) for a in activities]
    offsets = [activity_offset(a) for a in activities]
    known = [i for i, offset in enumerate(offsets) if offset is not None]
    result: list[datetime | None] = []
    for i, (gmt, loc) in enumerate(zip(utc, local, strict=True)):
        if gmt is not None:
            result.append(gmt.replace(tzinfo=timezone.utc))
        elif loc is None:
            result.append(None)
        else:
            offset = offsets[i]
            if offset is None and known:
                offset = offsets[min(known, key=lambda k: (abs(k - i), k))]
            if offset is None:
                logger.debug("ups: activity %s has no GMT fields, offset or known place; read as UTC", loc)
            result.append((loc - (offset or timedelta(0))).replace(tzinfo=timezone.utc))
    return result


# --------------------------------------------------------------------------- Track API reply


def _status_of(container: Any) -> Mapping[str, Any]:
    return container if isinstance(container, Mapping) else {}


def _signed_by(activity: Mapping[str, Any]) -> str | None:
    """The activity's own signer, where UPS puts one (`signedForByName`, also inside `location`)."""
    location = _status_of(activity.get("location"))
    return text_of(activity.get("signedForByName")) or text_of(location.get("signedForByName"))


def _events(activities: list[Any], *, received_by: str | None = None) -> list[TrackingEvent]:
    """UPS `activity[]` (newest first) as normalized events, oldest first.

    `received_by` (`deliveryInformation.receivedBy`) signs the newest
    delivered event that names no signer of its own.
    """
    items = [a for a in reversed(activities) if isinstance(a, Mapping)]
    dated = [(when, a) for when, a in zip(activity_times(items), items, strict=True) if when is not None]
    if len(dated) < len(items):
        logger.warning("ups: skipped %d activity(ies) without a usable date", len(items) - len(dated))
    dated.sort(key=lambda pair: pair[0])  # stable: same-second activities keep UPS's order
    events: list[TrackingEvent] = []
    for when, activity in dated:
        status = _status_of(activity.get("status"))
        kind, code, short = text_of(status.get("type")), status.get("statusCode"), status.get("code")
        normalized, _ = ups_status(kind, code, short)
        if events and is_informational(kind, code):
            normalized = events[-1].status
        events.append(
            TrackingEvent(
                occurred_at=when,
                status=normalized,
                carrier_code=text_of(code) or text_of(short) or kind,
                description=text_of(status.get("description")),
                location=_activity_location(activity),
                signed_by=_signed_by(activity) if normalized == TrackingStatus.DELIVERED else None,
                raw=dict(activity),
            )
        )
    return sign_latest(events, received_by, statuses=_DELIVERED, keep_own=True)


def _estimated_delivery(package: Mapping[str, Any], events: list[TrackingEvent]) -> datetime | None:
    """The rescheduled (RDD) else scheduled (SDD) delivery date, at `deliveryTime.endTime` if given, else 00:00.

    The date is local to the destination: it is read with the newest event's
    offset when known (see `activity_times`), else as UTC.
    """
    dates = {
        text_of(d.get("type")): d.get("date") for d in package.get("deliveryDate") or [] if isinstance(d, Mapping)
    }
    day = dates.get("RDD") or dates.get("SDD")
    if day is None:
        return None
    window = _status_of(package.get("deliveryTime"))
    end = window.get("endTime") if text_of(window.get("type")) in {"EDW", "CDW", "IDW", "CMT"} else None
    local = _naive(day, end)
    if local is None:
        return None
    offset = next((o for o in (activity_offset(e.raw) for e in reversed(events)) if o is not None), timedelta(0))
    return (local - offset).replace(tzinfo=timezone.utc)


def _pick_package(shipment: Mapping[str, Any]) -> Mapping[str, Any] | None:
    packages = [p for p in shipment.get("package") or [] if isinstance(p, Mapping)]
    number = text_of(shipment.get("inquiryNumber"))
    return next((p for p in packages if number and text_of(p.get("trackingNumber")) == number), None) or (
        packages[0] if packages else None
    )


def _parse_shipment(shipment: Mapping[str, Any], inquiry_number: str | None) -> TrackingResult:
    package = _pick_package(shipment)
    number = (
        text_of(shipment.get("inquiryNumber")) or inquiry_number or text_of((package or {}).get("trackingNumber")) or ""
    )
    warnings = code_message_pairs(shipment.get("warnings"))
    current = package.get("currentStatus") if package and isinstance(package.get("currentStatus"), Mapping) else None
    activities = list(package.get("activity") or []) if package else []
    if any(code in NOT_FOUND_CODES for code, _ in warnings) or (not activities and current is None):
        error = errors_text(warnings) or "UPS returned no tracking data"
        return TrackingResult(tracking_number=number, found=False, error=error, raw=dict(shipment))
    if warnings:
        logger.info("ups: %s answered with warnings: %s", number, errors_text(warnings))

    delivery = _status_of((package or {}).get("deliveryInformation"))
    events = _events(activities, received_by=text_of(delivery.get("receivedBy")))
    shipment_status = (
        ups_status(text_of(current.get("type")), current.get("statusCode"), current.get("code"))[0]
        if current
        else TrackingStatus.UNKNOWN
    )
    status = latest_known_status(events) or shipment_status
    return TrackingResult(
        tracking_number=number,
        found=True,
        status=status,
        events=events,
        estimated_delivery=_estimated_delivery(package, events) if package else None,
        raw=dict(shipment),
    )


def parse_track_response(payload: Mapping[str, Any], *, inquiry_number: str | None = None) -> list[TrackingResult]:
    """Parse a 200 reply of `GET /api/track/v1/details/{n}`: one result per `trackResponse.shipment[]`.

    `inquiry_number` (the number asked for) names results whose shipment has no
    `inquiryNumber` (the TW0001 not-found shape). Of a multi-package shipment
    the package whose `trackingNumber` is the inquiry number is used, else the
    first. Events are oldest first in UTC; `status` is the newest event's, or
    `currentStatus`'s when there are no events or the newest is unknown; a
    delivered result has no ETA (TrackingResult drops it).

    Raises CarrierBadResponse if the payload has no `trackResponse.shipment` list.
    """
    track = payload.get("trackResponse") if isinstance(payload, Mapping) else None
    shipments = track.get("shipment") if isinstance(track, Mapping) else None
    if not isinstance(shipments, list):
        raise CarrierBadResponse(CARRIER, "track reply has no trackResponse.shipment")
    return [_parse_shipment(s, inquiry_number) for s in shipments if isinstance(s, Mapping)]


# --------------------------------------------------------------------------- Track Alert push


def parse_track_alert_event(payload: Mapping[str, Any]) -> TrackingResult:
    """Parse one UPS Track Alert `TrackingEvent` body (the webhook UPS POSTs) into a one-event result.

    Time: `gmtActivityDate`/`gmtActivityTime` (UTC), else the local activity
    date/time with `gmtOffset` ("-04.00"), else in the zone of
    `activityLocation` (state/country), else as UTC. The status comes from
    `activityStatus` (`descriptionCode` "021" — or an int from YAML examples —
    then the 2-letter `code`, then `type`); a delivered event is signed by
    `receivedBy`. Raises CarrierBadResponse without `trackingNumber`,
    `activityStatus` or a usable date.
    """
    number = text_of(payload.get("trackingNumber")) if isinstance(payload, Mapping) else None
    status = payload.get("activityStatus") if number else None
    if not number or not isinstance(status, Mapping):
        raise CarrierBadResponse(CARRIER, "Track Alert event without trackingNumber/activityStatus")
    activity = {
        "date": payload.get("localActivityDate"),
        "time": payload.get("localActivityTime"),
        "gmtDate": payload.get("gmtActivityDate"),
        "gmtTime": payload.get("gmtActivityTime"),
        "gmtOffset": payload.get("gmtOffset"),
        "location": {"address": payload.get("activityLocation")},
    }
    when = activity_times([activity])[0]
    if when is None:
        raise CarrierBadResponse(CARRIER, f"Track Alert event for {number} has no usable date")
    kind, code, short = text_of(status.get("type")), status.get("descriptionCode"), status.get("code")
    normalized, _ = ups_status(kind, code, short)
    event = TrackingEvent(
        occurred_at=when,
        status=normalized,
        carrier_code=text_of(code) or text_of(short) or kind,
        description=text_of(status.get("description")),
        location=location_of(payload.get("activityLocation")),
        signed_by=text_of(payload.get("receivedBy")) if normalized == TrackingStatus.DELIVERED else None,
        raw=dict(payload),
    )
    return TrackingResult(tracking_number=number, status=normalized, events=[event], raw=dict(payload))
