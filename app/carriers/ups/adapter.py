"""UPS adapter: UPS Track API v1 (REST) with OAuth2 client credentials.

Documents followed (copies in `carrier-samples/ups/`, UPS-API/api-documentation @ e6f36df4):

* `openapi-tracking.yaml` — "UPS TrackService API": `GET /api/track/v1/details/{inquiryNumber}`
  (one inquiry number per request, 7..34 characters; headers `transId`,
  `transactionSrc`; errors `{response: {errors: [{code, message}]}}` with
  400/403/404/500/503);
* `openapi-oauth-client-credentials.yaml` — `POST /security/v1/oauth/token`,
  HTTP Basic client_id:client_secret, form `grant_type=client_credentials`;
* `openapi-track-alert.yaml` — the Track Alert `TrackingEvent` body, parsed by
  `parse_track_alert_event`; pushes are authenticated by the optional
  `x-api-key` header UPS sends (`UpsAdapter.webhook_auth_header`);
* the status tables mapped in `app.carriers.ups.units`.

"Not found" arrives as HTTP 404 with an errors body, or as HTTP 200 with
`trackResponse.shipment[].warnings[]` code TW0001; 400 TV1002 ("Invalid
inquiry number") is also a per-number answer. All three give `found=False`.
Error codes 2500xx (e.g. 250003 "Invalid Access License number") are
credential failures -> CarrierAuthError.

Times: an activity's `gmtDate`+`gmtTime` (HHMMSS, UPS may drop the leading
zero: "74700") are UTC and used when present. Otherwise the local
`date`+`time` is read with the activity's `gmtOffset` ("-05:00"; Track Alert
writes "-04.00"), else with the offset of the nearest activity of the same
package whose offset is known, else — UPS gave no clue at all, as in the
CIE sample — as if it were UTC (then off by the local offset).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.carriers.base import blank_number_result, decode_push_json, track_concurrently
from app.carriers.errors import CarrierAuthError, CarrierBadResponse, WebhookPayloadError
from app.carriers.fields import code_message_pairs, text_of
from app.carriers.http import decode_json
from app.carriers.oauth_adapter import OAuthClientCredentialsAdapter
from app.carriers.types import Location, TrackingEvent, TrackingResult, TrackingStatus
from app.carriers.ups.units import is_informational, ups_status

logger = logging.getLogger(__name__)

CARRIER = "ups"
TOKEN_PATH = "/security/v1/oauth/token"
TRACK_PATH = "/api/track/v1/details/"
TRANSACTION_SRC = "courier-hub"
"""`transactionSrc` header: identifies the calling application to UPS."""
MAX_CONCURRENT_REQUESTS = 5
"""Parallel track requests when `track()` is given several numbers (UPS takes one per request)."""
NOT_FOUND_CODES = frozenset({"TW0001", "TV1002"})
"""Warning/error codes meaning UPS has no tracking data for that number."""
AUTH_ERROR_PREFIX = "2500"
"""UPS security error codes (250001..250004, e.g. 250003 "Invalid Access License number")."""


class UpsCredentials(BaseModel):
    """A UPS integration: the OAuth client of an app on developer.ups.com, and optionally the shipper account."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    client_id: str = Field(min_length=1, description="UPS app Client ID.")
    client_secret: SecretStr = Field(description="UPS app Client Secret.")
    account_number: str | None = Field(
        default=None, description="UPS shipper account number (6 characters); not needed to track."
    )


# --------------------------------------------------------------------------- request / errors


def build_track_request(inquiry_number: str, *, locale: str = "en_US") -> tuple[str, dict[str, str]]:
    """The path (inquiry number URL-escaped) and query of `GET /api/track/v1/details/{inquiryNumber}`.

    Signature, milestones and proof of delivery are not requested.
    """
    path = TRACK_PATH + quote(inquiry_number, safe="")
    params = {"locale": locale, "returnSignature": "false", "returnMilestones": "false", "returnPOD": "false"}
    return path, params


def parse_errors(payload: Any) -> list[tuple[str, str]]:
    """The `(code, message)` pairs of a UPS error body `{response: {errors: [{code, message}]}}`."""
    response = payload.get("response") if isinstance(payload, Mapping) else None
    return code_message_pairs(response.get("errors") if isinstance(response, Mapping) else None)


def _errors_text(errors: list[tuple[str, str]]) -> str:
    return "; ".join(": ".join(part for part in pair if part) for pair in errors)


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


def _activity_offset(activity: Mapping[str, Any]) -> timedelta | None:
    """The local UTC offset of one activity: its `gmtOffset`, else local time minus GMT time, else None."""
    offset = _offset(activity.get("gmtOffset"))
    gmt = _naive(activity.get("gmtDate"), activity.get("gmtTime"))
    local = _naive(activity.get("date"), activity.get("time"))
    if offset is None and gmt is not None and local is not None:
        offset = timedelta(minutes=round((local - gmt).total_seconds() / 60))
    return offset


def _activity_times(activities: list[Mapping[str, Any]]) -> list[datetime | None]:
    """Aware UTC times for the activities (see the module docstring for the rules)."""
    utc = [_naive(a.get("gmtDate"), a.get("gmtTime")) for a in activities]
    local = [_naive(a.get("date"), a.get("time")) for a in activities]
    offsets = [_activity_offset(a) for a in activities]
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
                logger.debug("ups: activity %s has no GMT fields or offset; read as UTC", loc)
            result.append((loc - (offset or timedelta(0))).replace(tzinfo=timezone.utc))
    return result


# --------------------------------------------------------------------------- response


def _location(address: Any) -> Location:
    if not isinstance(address, Mapping):
        return Location()
    return Location(
        city=text_of(address.get("city")),
        postal_code=text_of(address.get("postalCode")),
        country=text_of(address.get("countryCode")) or text_of(address.get("country")),
    )


def _carrier_code(status: Mapping[str, Any]) -> str | None:
    """The code the status is mapped from: the description code, else the 2-letter code, else the type."""
    return text_of(status.get("statusCode")) or text_of(status.get("code")) or text_of(status.get("type"))


def _events(activities: list[Any]) -> list[TrackingEvent]:
    """UPS `activity[]` (newest first) as normalized events, oldest first."""
    items = [a for a in reversed(activities) if isinstance(a, Mapping)]
    dated = [(when, a) for when, a in zip(_activity_times(items), items, strict=True) if when is not None]
    if len(dated) < len(items):
        logger.warning("ups: skipped %d activity(ies) without a usable date", len(items) - len(dated))
    dated.sort(key=lambda pair: pair[0])  # stable: same-second activities keep UPS's order
    events: list[TrackingEvent] = []
    for when, activity in dated:
        status = activity.get("status") if isinstance(activity.get("status"), Mapping) else {}
        kind, code = text_of(status.get("type")), status.get("statusCode")
        normalized, _ = ups_status(kind, code)
        if events and is_informational(kind, code):
            normalized = events[-1].status
        location = activity.get("location") if isinstance(activity.get("location"), Mapping) else {}
        events.append(
            TrackingEvent(
                occurred_at=when,
                status=normalized,
                carrier_code=_carrier_code(status),
                description=text_of(status.get("description")),
                location=_location(location.get("address")),
                raw=dict(activity),
            )
        )
    return events


def _estimated_delivery(package: Mapping[str, Any], events: list[TrackingEvent]) -> datetime | None:
    """The rescheduled (RDD) else scheduled (SDD) delivery date, at `deliveryTime.endTime` if given, else 00:00.

    The date is local to the destination: it is read with the newest event's
    offset when known (see `_activity_times`), else as UTC.
    """
    dates = {
        text_of(d.get("type")): d.get("date") for d in package.get("deliveryDate") or [] if isinstance(d, Mapping)
    }
    day = dates.get("RDD") or dates.get("SDD")
    if day is None:
        return None
    window = package.get("deliveryTime") if isinstance(package.get("deliveryTime"), Mapping) else {}
    end = window.get("endTime") if text_of(window.get("type")) in {"EDW", "CDW", "IDW", "CMT"} else None
    local = _naive(day, end)
    if local is None:
        return None
    offset = next((o for o in (_activity_offset(e.raw) for e in reversed(events)) if o is not None), timedelta(0))
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
        error = _errors_text(warnings) or "UPS returned no tracking data"
        return TrackingResult(tracking_number=number, found=False, error=error, raw=dict(shipment))
    if warnings:
        logger.info("ups: %s answered with warnings: %s", number, _errors_text(warnings))

    events = _events(activities)
    shipment_status = (
        ups_status(text_of(current.get("type")), current.get("statusCode"))[0] if current else TrackingStatus.UNKNOWN
    )
    status = events[-1].status if events and events[-1].status != TrackingStatus.UNKNOWN else shipment_status
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
    `currentStatus`'s when there are no events or the newest is unknown.

    Raises CarrierBadResponse if the payload has no `trackResponse.shipment` list.
    """
    track = payload.get("trackResponse") if isinstance(payload, Mapping) else None
    shipments = track.get("shipment") if isinstance(track, Mapping) else None
    if not isinstance(shipments, list):
        raise CarrierBadResponse(CARRIER, "track reply has no trackResponse.shipment")
    return [_parse_shipment(s, inquiry_number) for s in shipments if isinstance(s, Mapping)]


def parse_track_alert_event(payload: Mapping[str, Any]) -> TrackingResult:
    """Parse one UPS Track Alert `TrackingEvent` body (the webhook UPS POSTs) into a one-event result.

    Time: `gmtActivityDate`/`gmtActivityTime` (UTC), else the local activity
    date/time with `gmtOffset` ("-04.00"), else the local time as UTC.
    `descriptionCode` may be a string ("021") or, from YAML examples, an int.
    Raises CarrierBadResponse without `trackingNumber`, `activityStatus` or a usable date.
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
    }
    when = _activity_times([activity])[0]
    if when is None:
        raise CarrierBadResponse(CARRIER, f"Track Alert event for {number} has no usable date")
    kind, code = text_of(status.get("type")), status.get("descriptionCode")
    normalized, _ = ups_status(kind, code)
    event = TrackingEvent(
        occurred_at=when,
        status=normalized,
        carrier_code=text_of(code) or text_of(status.get("code")) or kind,
        description=text_of(status.get("description")),
        location=_location(payload.get("activityLocation")),
        raw=dict(payload),
    )
    return TrackingResult(tracking_number=number, status=normalized, events=[event], raw=dict(payload))


# --------------------------------------------------------------------------- adapter


class UpsAdapter(OAuthClientCredentialsAdapter):
    """UPS through the Track API v1 (one number per request) with OAuth2 client credentials."""

    code = "ups"
    name = "UPS"
    credentials_model = UpsCredentials
    sandbox_base_url = "https://wwwcie.ups.com"
    production_base_url = "https://onlinetools.ups.com"
    max_batch_size = 1
    token_path = TOKEN_PATH
    token_basic_auth = True  # UPS OAuth Client Credentials: HTTP Basic client_id:client_secret
    webhook_auth_header = "x-api-key"
    """Track Alert (`openapi-track-alert.yaml`, `webhooks.TrackingEvent`) sends the webhook credential
    configured for the subscription (v1 `destination.credential`, v2 "Manage Webhook Credentials") in the
    optional `x-api-key` header; the merchant sets that credential to the integration's webhook secret."""

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[TrackingResult]:
        """Parse a UPS Track Alert push: one `TrackingEvent` object (UPS's documented body,
        `openapi-track-alert.yaml` `webhooks.TrackingEvent`) or a JSON list of them; one
        single-event TrackingResult per event, in body order (`parse_track_alert_event`).

        Raises WebhookPayloadError when the body is not JSON, an item is not an
        object, or an event lacks `trackingNumber`, `activityStatus` or a usable date.
        """
        document = decode_push_json(CARRIER, body)
        events = document if isinstance(document, list) else [document]
        results: list[TrackingResult] = []
        for index, event in enumerate(events):
            if not isinstance(event, Mapping):
                raise WebhookPayloadError(CARRIER, f"Track Alert item {index} is not a TrackingEvent object")
            try:
                results.append(parse_track_alert_event(event))
            except CarrierBadResponse as exc:
                raise WebhookPayloadError(CARRIER, exc.message) from None
        return results

    def request_headers(self) -> dict[str, str]:
        """UPS's `transId` (new for each request, at most 32 characters) and `transactionSrc`."""
        return {"transId": uuid.uuid4().hex, "transactionSrc": TRANSACTION_SRC}

    def error_detail(self, response: httpx.Response) -> str:
        """The `code: message` pairs of a UPS error body, else the HTTP status."""
        return _response_errors(response)

    async def _track_one(self, number: str) -> TrackingResult:
        if not number:
            return blank_number_result(number)
        path, params = build_track_request(number, locale=self.locale)
        response = await self.authorized_request(
            "GET", f"{self.base_url}{path}", operation="track", params=params, ok_statuses=(200, 400, 404)
        )
        if response.status_code == 404 and not response.content.strip():
            return TrackingResult(tracking_number=number, found=False, error="UPS: HTTP 404 (no body)")
        payload = decode_json(CARRIER, response)
        errors = parse_errors(payload)
        if any(code.startswith(AUTH_ERROR_PREFIX) for code, _ in errors):
            raise CarrierAuthError(CARRIER, _errors_text(errors), status_code=response.status_code)
        if response.status_code == 404 or (errors and all(code in NOT_FOUND_CODES for code, _ in errors)):
            error = _errors_text(errors) or "UPS: tracking information not found"
            raw = dict(payload) if isinstance(payload, Mapping) else {}
            return TrackingResult(tracking_number=number, found=False, error=error, raw=raw)
        if response.status_code != 200 or errors:
            detail = _errors_text(errors) or f"HTTP {response.status_code}"
            raise CarrierBadResponse(CARRIER, f"track request rejected: {detail}", status_code=response.status_code)
        results = parse_track_response(payload, inquiry_number=number)
        if not results:
            return TrackingResult(tracking_number=number, found=False, error="UPS returned no shipment")
        return results[0].model_copy(update={"tracking_number": number})

    async def track(self, tracking_numbers: Sequence[str]) -> list[TrackingResult]:
        """Track UPS numbers, one request each (at most 5 in parallel); one result per input, in input order.

        Not found (404, TW0001 warning, TV1002) gives `found=False`. Raises
        CarrierAuthError (401 after one token refresh, 403, 2500xx codes),
        CarrierBadResponse (other 400s, unparseable replies), CarrierRateLimited,
        CarrierUnavailable; with several numbers the first error to occur is raised
        and the requests still running are cancelled (`track_concurrently`).
        """
        wanted = [number.strip() for number in tracking_numbers]
        unique = list(dict.fromkeys(wanted))
        results = await track_concurrently(unique, self._track_one, limit=MAX_CONCURRENT_REQUESTS)
        by_number = dict(zip(unique, results, strict=True))
        return [by_number[number] for number in wanted]


def _response_errors(response: httpx.Response) -> str:
    try:
        errors = parse_errors(decode_json(CARRIER, response))
    except CarrierBadResponse:
        errors = []
    return _errors_text(errors) or f"HTTP {response.status_code}"
