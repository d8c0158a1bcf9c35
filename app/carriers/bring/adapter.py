"""Bring (Posten Bring, Mybring) adapter: tracking and Event Cast push parsing.

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
  Bring documents no signature for callbacks but sends any custom headers
  the subscriber configures: we require the webhook secret in
  `x-courier-hub-secret` (`BringAdapter.webhook_auth_header`).
* Credential check: Booking API customers endpoint
  `GET {base}/booking/api/customers` (lists the Mybring user's customer
  numbers; needs valid Mybring headers).

Bring has no separate tracking sandbox: both environments use
https://api.bring.com (the static numbers TESTPACKAGEDELIVERED,
TESTPACKAGEATPICKUPPOINT, ... return canned data in production).

Times: `dateIso` carries its offset and is converted to UTC; when only the
display date/time (or an ETA date) is given it is read as Europe/Oslo time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta, timezone
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.carriers.base import SECRET_HEADER, CarrierAdapter, decode_push_json
from app.carriers.bring.units import normalize_event_status
from app.carriers.errors import (
    CarrierAuthError,
    CarrierBadResponse,
    CarrierRateLimited,
    CarrierUnavailable,
    WebhookPayloadError,
)
from app.carriers.fields import compact_id, text_of
from app.carriers.http import decode_json
from app.carriers.timezones import parse_optional_datetime
from app.carriers.types import Location, ServicePoint, TrackingEvent, TrackingResult, TrackingStatus

logger = logging.getLogger(__name__)

CARRIER = "bring"
BRING_LOCAL_ZONE = ZoneInfo("Europe/Oslo")
"""Zone assumed for Bring times that carry no offset (display date/time, ETA date)."""
TRACKING_PATH = "/tracking/api/v2/tracking.json"
CUSTOMERS_PATH = "/booking/api/customers"
NOT_FOUND_CODES = frozenset({400, 404})
"""Consignment-level error codes that concern the query itself: the number is reported as not found."""


class BringCredentials(BaseModel):
    """A Mybring API user: login id, API key and an optional client URL."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    api_uid: str = Field(min_length=1, description="Mybring login id (the user's e-mail address).")
    api_key: SecretStr = Field(description="The Mybring user's API key.")
    client_url: str | None = Field(
        default=None, description="Sent as X-Bring-Client-URL: a URL identifying the integrating site."
    )


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


def _location(event: dict[str, Any]) -> Location:
    country = text_of(event.get("countryCode"))
    return Location(
        city=text_of(event.get("city")),
        postal_code=text_of(event.get("postalCode")),
        country=country.upper() if country and len(country) == 2 else None,
    )


def _pickup_point(event: dict[str, Any], package: dict[str, Any]) -> ServicePoint:
    """The pickup point of a READY_FOR_PICKUP event.

    Bring's tracking event names the unit (id, postal code, city) but not
    its name or street; the name is taken from `expectedPickupUnitName`
    only when `expectedPickupUnitId` is the same unit.
    """
    unit_id = text_of(event.get("unitId"))
    name = None
    if unit_id and unit_id == text_of(package.get("expectedPickupUnitId")):
        name = text_of(package.get("expectedPickupUnitName"))
    location = _location(event)
    return ServicePoint(
        id=unit_id, name=name, city=location.city, postal_code=location.postal_code, country=location.country
    )


def _expected_pickup_point(package: dict[str, Any]) -> ServicePoint | None:
    unit_id = text_of(package.get("expectedPickupUnitId"))
    name = text_of(package.get("expectedPickupUnitName"))
    if unit_id is None and name is None:
        return None
    return ServicePoint(id=unit_id, name=name)


def _estimated_delivery(package: dict[str, Any]) -> datetime | None:
    """The latest moment of Bring's delivery promise, as aware UTC.

    `dateOfEstimatedDelivery` (dd.mm.yyyy, Oslo) with the end of
    `estimatedTimeSpanOfDelivery` when given, else the end of that day;
    a time span without a date gives None.
    """
    date_text = package.get("dateOfEstimatedDelivery")
    span = package.get("estimatedTimeSpanOfDelivery") or {}
    end = text_of(span.get("endTime")) if isinstance(span, dict) else None
    if end:
        return _parse_display(date_text, end)
    start_of_day = _parse_display(date_text)
    return start_of_day + timedelta(days=1, seconds=-1) if start_of_day else None


def _build_events(packages: list[dict[str, Any]]) -> list[TrackingEvent]:
    """All events of `packages`, oldest first, de-duplicated (consignment events repeat per package)."""
    collected: list[tuple[datetime, dict[str, Any], dict[str, Any]]] = []
    seen: set[tuple[Any, ...]] = set()
    for package in packages:
        # Bring lists newest first; reverse so the stable sort keeps Bring's order for equal times.
        for raw in reversed(package.get("eventSet") or []):
            if not isinstance(raw, dict):
                continue
            occurred_at = _parse_instant(raw.get("dateIso")) or _parse_display(
                raw.get("displayDate"), raw.get("displayTime")
            )
            if occurred_at is None:
                logger.warning("bring: event without a readable time skipped: %r", raw)
                continue
            key = (occurred_at, raw.get("status"), raw.get("description"), raw.get("unitId"))
            if key in seen:
                continue
            seen.add(key)
            collected.append((occurred_at, raw, package))
    collected.sort(key=lambda item: item[0])

    events: list[TrackingEvent] = []
    previous: TrackingStatus | None = None
    for occurred_at, raw, package in collected:
        status = normalize_event_status(raw.get("status"), previous)
        events.append(
            TrackingEvent(
                occurred_at=occurred_at,
                status=status,
                carrier_code=text_of(raw.get("status")),
                description=text_of(raw.get("description")),
                location=_location(raw),
                service_point=_pickup_point(raw, package) if text_of(raw.get("status")) == "READY_FOR_PICKUP" else None,
                raw=raw,
            )
        )
        previous = status
    return events


def _consignments(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The consignment objects of either envelope (`consignmentSet` or `shipments[].consignmentSet`)."""
    if isinstance(payload.get("consignmentSet"), list):
        sets = [payload["consignmentSet"]]
    elif isinstance(payload.get("shipments"), list):
        sets = [s.get("consignmentSet") or [] for s in payload["shipments"] if isinstance(s, dict)]
    else:
        raise CarrierBadResponse(CARRIER, "tracking response has neither consignmentSet nor shipments")
    return [c for group in sets if isinstance(group, list) for c in group if isinstance(c, dict)]


def _error_code(error: dict[str, Any]) -> int | None:
    try:
        return int(error.get("code"))
    except (TypeError, ValueError):
        return None


def _raise_for_consignment_error(error: dict[str, Any]) -> None:
    """Raise the typed error for a consignment error that is not about the query (400/404)."""
    code = _error_code(error)
    if code in NOT_FOUND_CODES:
        return
    message = f"{error.get('system') or 'tracking'}: {error.get('message') or 'error'} (code {error.get('code')})"
    if code is not None and code >= 500:
        raise CarrierUnavailable(CARRIER, message, status_code=code)
    if code in (401, 403):
        raise CarrierAuthError(CARRIER, message, status_code=code)
    if code == 429:
        raise CarrierRateLimited(CARRIER, message)
    raise CarrierBadResponse(CARRIER, message, status_code=code)


def _result(number: str, consignments: list[dict[str, Any]], packages: list[dict[str, Any]]) -> TrackingResult:
    events = _build_events(packages)
    status = events[-1].status if events else TrackingStatus.UNKNOWN
    service_point = next((e.service_point for e in reversed(events) if e.service_point), None)
    if service_point is None:
        service_point = next((sp for p in packages if (sp := _expected_pickup_point(p))), None)
    estimated = next((eta for p in packages if (eta := _estimated_delivery(p))), None)
    raw = consignments[0] if len(consignments) == 1 else {"consignmentSet": consignments}
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

    Raises (when no consignment came back, for an error not about the query):
        CarrierUnavailable: code >= 500 (Bring's "too busy" 503 and
            "Error getting track & trace information" 500).
        CarrierAuthError: code 401/403. CarrierRateLimited: code 429.
        CarrierBadResponse: any other error code, or a payload that is not
            a tracking reply.
    """
    consignments = _consignments(payload)
    errors = [c["error"] for c in consignments if isinstance(c.get("error"), dict)]
    found = [c for c in consignments if "error" not in c]
    if not found:
        # Only a reply with nothing usable fails the whole call.
        for error in errors:
            _raise_for_consignment_error(error)
    error_text = "; ".join(str(e.get("message") or f"code {e.get('code')}") for e in errors) or "No shipments found"

    results: list[TrackingResult] = []
    for number in requested:
        wanted = compact_id(number)
        matched_consignments: list[dict[str, Any]] = []
        packages: list[dict[str, Any]] = []
        for consignment in found:
            package_set = [p for p in consignment.get("packageSet") or [] if isinstance(p, dict)]
            if compact_id(consignment.get("consignmentId")) == wanted:
                hits = package_set
            else:
                hits = [p for p in package_set if compact_id(p.get("packageNumber")) == wanted]
            if hits:
                matched_consignments.append(consignment)
                packages.extend(hits)
        if not packages and len(requested) == 1:
            matched_consignments = found
            packages = [p for c in found for p in c.get("packageSet") or [] if isinstance(p, dict)]
        if packages:
            results.append(_result(number, matched_consignments, packages))
        else:
            results.append(TrackingResult(tracking_number=number, found=False, error=error_text, raw=payload))
    return results


def parse_event_cast(payload: dict[str, Any]) -> list[TrackingResult]:
    """Parse one Event Cast callback body into one single-event result.

    The result's tracking number is the package number (`package`), else
    the shipment number (`shipment`); both stay in `raw`. Event Cast sends
    no history, no place and no text: the event has only time and status
    (an informational status such as NOTIFICATION_SENT gives UNKNOWN, as
    there is no earlier event to keep the status of).

    Raises CarrierBadResponse if the body has no number, status or readable `created` time.
    """
    number = text_of(payload.get("package")) or text_of(payload.get("shipment"))
    code = text_of(payload.get("status"))
    occurred_at = _parse_instant(payload.get("created"))
    if number is None or code is None or occurred_at is None:
        raise CarrierBadResponse(CARRIER, "Event Cast body lacks package/shipment, status or created")
    status = normalize_event_status(code, None)
    event = TrackingEvent(occurred_at=occurred_at, status=status, carrier_code=code, raw=payload)
    return [TrackingResult(tracking_number=number, found=True, status=status, events=[event], raw=payload)]


class BringAdapter(CarrierAdapter):
    """Bring tracking over the Mybring Tracking API v2 (one number per request); Event Cast pushes inbound."""

    code: ClassVar[str] = CARRIER
    name: ClassVar[str] = "Bring"
    credentials_model: ClassVar[type[BaseModel]] = BringCredentials
    # Bring has no tracking sandbox; its static TEST* numbers work on the production host.
    sandbox_base_url: ClassVar[str] = "https://api.bring.com"
    production_base_url: ClassVar[str] = "https://api.bring.com"
    max_batch_size: ClassVar[int] = 1
    webhook_auth_header: ClassVar[str | None] = SECRET_HEADER
    """Event Cast lets subscribers configure custom callback headers; merchants add this one with the webhook secret."""

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[TrackingResult]:
        """Parse one Event Cast callback (`{status, id, shipment, package, created, pushed}`, Bring
        developer site `content/api/event-cast/index.md`, sample `event-cast-webhook-in-transit.json`)
        into one single-event TrackingResult (`parse_event_cast`).

        Raises WebhookPayloadError when the body is not a JSON object or lacks
        package/shipment, status or a readable `created` time.
        """
        document = decode_push_json(CARRIER, body)
        if not isinstance(document, dict):
            raise WebhookPayloadError(CARRIER, "Event Cast body is not a JSON object")
        try:
            return parse_event_cast(document)
        except CarrierBadResponse as exc:
            raise WebhookPayloadError(CARRIER, exc.message) from None

    def _headers(self) -> dict[str, str]:
        credentials: BringCredentials = self.credentials  # type: ignore[assignment]
        headers = {
            "Accept": "application/json",
            "X-Mybring-API-Uid": credentials.api_uid,
            "X-Mybring-API-Key": credentials.api_key.get_secret_value(),
        }
        if credentials.client_url:
            headers["X-Bring-Client-URL"] = credentials.client_url
        return headers

    async def track(self, tracking_numbers: Sequence[str]) -> list[TrackingResult]:
        """Track each number with one `GET /tracking/api/v2/tracking.json?q=` call; results in input order.

        HTTP 400/404 replies are parsed too (Bring reports query errors in the
        body). Raises CarrierAuthError (401/403), CarrierUnavailable (5xx,
        transport, or a >= 500 consignment error), CarrierRateLimited (429),
        CarrierBadResponse (anything else unreadable).
        """
        results: list[TrackingResult] = []
        for number in tracking_numbers:
            response = await self.http.request(
                CARRIER,
                "GET",
                f"{self.base_url}{TRACKING_PATH}",
                headers=self._headers(),
                params={"q": number, "lang": "en"},
                ok_statuses=(200, 400, 404),
            )
            payload = decode_json(CARRIER, response)
            if not isinstance(payload, dict):
                raise CarrierBadResponse(
                    CARRIER, "tracking response is not a JSON object", status_code=response.status_code
                )
            results.extend(parse_track_response(payload, [number]))
        return results

    async def test_credentials(self) -> None:
        """Call `GET /booking/api/customers` with the Mybring headers; raises CarrierAuthError on 401/403."""
        await self.http.request(CARRIER, "GET", f"{self.base_url}{CUSTOMERS_PATH}", headers=self._headers())
