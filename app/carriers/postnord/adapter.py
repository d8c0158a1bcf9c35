"""PostNord adapter: Track & Trace API v7 (find by identifier, public view).

Carrier document followed: "PostNord Track & Trace API v7 - FindByIdentifier
- Public" OpenAPI 3.0.1, v1.0.1 (developer.postnord.com; vendored in
Joaqim/karrio @24beaf3c, saved as
`carrier-samples/postnord/openapi-track-and-trace-v7-findbyidentifier.swagger.json`).

* `GET {base}/rest/shipment/v7/trackandtrace/id/{id}/public?apikey=<key>&locale=en`;
  the spec's server is `https://atapi2.postnord.com/rest/shipment` (sandbox),
  production is `https://api2.postnord.com`. `id` is a shipment or item id,
  10-35 letters/digits.
* Auth: the `apikey` query parameter only. A key not authorised for the
  product gets HTTP 403 `{"error": {"status_code": 403, ...,
  "message": "Invalid API Key"}}` (sample `error-403-invalid-api-key.json`).
* Reply: `{"TrackingInformationResponse": {"shipments": [ShipmentDto],
  "compositeFault": {"faults": [{faultCode, explanationText}]}}}`;
  an unknown id gives `shipments: []` (and possibly faults).

Times: fields with an offset are converted to UTC; PostNord also sends
local times without an offset, which are read as Europe/Stockholm time
(`POSTNORD_LOCAL_ZONE`), including for events in Denmark, Norway and Finland.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.carriers.base import CarrierAdapter
from app.carriers.errors import CarrierBadResponse
from app.carriers.fields import compact_id, text_of
from app.carriers.http import decode_json
from app.carriers.postnord.units import PICKUP_STATUSES, country_alpha2, normalize_status
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


class PostNordCredentials(BaseModel):
    """A PostNord developer-portal API key (32 characters), sent as the `apikey` query parameter."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    api_key: SecretStr = Field(description="PostNord API key, authorised for Track & Trace.")


def _parse_instant(value: Any) -> datetime | None:
    """An ISO-8601 date-time as aware UTC; without an offset it is Europe/Stockholm time. None if unreadable."""
    return parse_optional_datetime(value, zone=POSTNORD_LOCAL_ZONE)


def _status_value(value: Any) -> str | None:
    """A status enum value; tolerates the `{code, header, ...}` object some PostNord views send."""
    if isinstance(value, dict):
        value = value.get("code")
    return text_of(value)


def _location(raw: Any) -> Location:
    if not isinstance(raw, dict):
        return Location()
    return Location(
        city=text_of(raw.get("city")),
        postal_code=text_of(raw.get("postcode")),
        country=country_alpha2(text_of(raw.get("countryCode"))),
    )


def _delivery_point(shipment: dict[str, Any]) -> ServicePoint | None:
    """The service point the shipment goes to (`deliveryPoint`, else `destinationDeliveryPoint`,
    else the consignee's `requestedDeliveryPoint`), with its street address when given."""
    for key in ("deliveryPoint", "destinationDeliveryPoint", "requestedDeliveryPoint"):
        point = shipment.get(key)
        if not isinstance(point, dict) or not point:
            continue
        address = point.get("address") if isinstance(point.get("address"), dict) else {}
        street = ", ".join(s for s in (text_of(address.get("street1")), text_of(address.get("street2"))) if s)
        return ServicePoint(
            id=text_of(point.get("locationId")),
            name=text_of(point.get("displayName")) or text_of(point.get("name")),
            address=street or None,
            city=text_of(address.get("city")) or text_of(point.get("city")),
            postal_code=text_of(address.get("postCode")) or text_of(point.get("postcode")),
            country=country_alpha2(text_of(address.get("countryCode")) or text_of(point.get("countryCode"))),
        )
    return None


def _event_service_point(raw_location: Any, shipment: dict[str, Any]) -> ServicePoint | None:
    """Where a parcel waits for pickup: the shipment's delivery point, else the event's location."""
    point = _delivery_point(shipment)
    if point is not None:
        return point
    if not isinstance(raw_location, dict):
        return None
    location = _location(raw_location)
    return ServicePoint(
        id=text_of(raw_location.get("locationId")),
        name=text_of(raw_location.get("displayName")) or text_of(raw_location.get("name")),
        city=location.city,
        postal_code=location.postal_code,
        country=location.country,
    )


def _build_events(shipment: dict[str, Any], items: list[dict[str, Any]]) -> list[TrackingEvent]:
    """The events of `items`, oldest first, without duplicates across items."""
    collected: list[tuple[datetime, dict[str, Any]]] = []
    seen: set[tuple[Any, ...]] = set()
    for item in items:
        for raw in item.get("events") or []:
            if not isinstance(raw, dict):
                continue
            occurred_at = _parse_instant(raw.get("eventTime"))
            if occurred_at is None:
                logger.warning("postnord: event without a readable eventTime skipped: %r", raw)
                continue
            location = raw.get("location") if isinstance(raw.get("location"), dict) else {}
            key = (occurred_at, raw.get("eventCode"), raw.get("status"), location.get("locationId"))
            if key in seen:
                continue
            seen.add(key)
            collected.append((occurred_at, raw))
    collected.sort(key=lambda pair: pair[0])

    events: list[TrackingEvent] = []
    previous: TrackingStatus | None = None
    for occurred_at, raw in collected:
        value = _status_value(raw.get("status"))
        status = normalize_status(value, previous, what=f"event status (eventCode {raw.get('eventCode')!r})")
        is_pickup = (value or "").upper() in PICKUP_STATUSES
        events.append(
            TrackingEvent(
                occurred_at=occurred_at,
                status=status,
                carrier_code=text_of(raw.get("eventCode")) or value,
                description=text_of(raw.get("eventDescription")),
                location=_location(raw.get("location")),
                service_point=_event_service_point(raw.get("location"), shipment) if is_pickup else None,
                raw=raw,
            )
        )
        previous = status
    return events


def _summary_status(shipment: dict[str, Any], items: list[dict[str, Any]]) -> TrackingStatus:
    """The status PostNord states for the item (one item asked) or the shipment, used when events say nothing."""
    values = [_status_value(i.get("status")) for i in items] if len(items) == 1 else []
    values.append(_status_value(shipment.get("status")))
    for value in values:
        if value:
            status = normalize_status(value, None, what="shipment/item status")
            if status is not TrackingStatus.UNKNOWN:
                return status
    return TrackingStatus.UNKNOWN


def _estimated_delivery(shipment: dict[str, Any], items: list[dict[str, Any]]) -> datetime | None:
    sources = [*items, shipment] if len(items) == 1 else [shipment]
    for source in sources:
        for key in ("estimatedTimeOfArrival", "publicTimeOfArrival"):
            value = _parse_instant(source.get(key))
            if value is not None:
                return value
    return None


def _fault_text(fault: Any) -> str | None:
    faults = fault.get("faults") if isinstance(fault, dict) else None
    texts = [
        text_of(f.get("explanationText")) or text_of(f.get("faultCode")) for f in faults or [] if isinstance(f, dict)
    ]
    return "; ".join(t for t in texts if t) or None


Selection = tuple[dict[str, Any], list[dict[str, Any]]]


def _select(shipments: list[dict[str, Any]], number: str, *, only: bool) -> Selection | None:
    """The shipment and items `number` names: a shipment id (all its items) or an item id (that item)."""
    wanted = compact_id(number)
    for shipment in shipments:
        items = [i for i in shipment.get("items") or [] if isinstance(i, dict)]
        if compact_id(shipment.get("shipmentId")) == wanted:
            return shipment, items
        hits = [i for i in items if compact_id(i.get("itemId")) == wanted]
        if hits:
            return shipment, hits
    if only and len(shipments) == 1:
        # One id asked, one shipment back, ids spelt differently (e.g. a reference): it is the answer.
        shipment = shipments[0]
        return shipment, [i for i in shipment.get("items") or [] if isinstance(i, dict)]
    return None


def parse_track_response(payload: dict[str, Any], requested: list[str]) -> list[TrackingResult]:
    """Parse a Track & Trace v7 reply into one result per requested id, in order.

    A shipment id collects the events of all its items; an item id those of
    that item. TrackingResult.status is the latest event's status, or the
    item/shipment `status` when there is no event or the latest is unknown.
    An id matching no shipment gives found=False with PostNord's fault text.

    Raises CarrierBadResponse if the payload has no `TrackingInformationResponse` object.
    """
    info = payload.get("TrackingInformationResponse")
    if not isinstance(info, dict):
        raise CarrierBadResponse(CARRIER, "reply has no TrackingInformationResponse object")
    shipments = [s for s in info.get("shipments") or [] if isinstance(s, dict)]
    not_found_text = _fault_text(info.get("compositeFault")) or "No shipment found"

    results: list[TrackingResult] = []
    for number in requested:
        selected = _select(shipments, number, only=len(requested) == 1)
        if selected is None:
            results.append(TrackingResult(tracking_number=number, found=False, error=not_found_text, raw=info))
            continue
        shipment, items = selected
        events = _build_events(shipment, items)
        status = events[-1].status if events else TrackingStatus.UNKNOWN
        if status is TrackingStatus.UNKNOWN:
            status = _summary_status(shipment, items)
        service_point = next((e.service_point for e in reversed(events) if e.service_point), None)
        results.append(
            TrackingResult(
                tracking_number=number,
                found=True,
                status=status,
                events=events,
                estimated_delivery=_estimated_delivery(shipment, items),
                service_point=service_point or _delivery_point(shipment),
                raw=shipment,
            )
        )
    return results


def _parse_not_found_reply(payload: Any, number: str) -> TrackingResult:
    """A 404 reply: PostNord's ErrorResponse (`message`/`compositeFault`) means the id is unknown."""
    if isinstance(payload, dict) and isinstance(payload.get("TrackingInformationResponse"), dict):
        return parse_track_response(payload, [number])[0]
    if isinstance(payload, dict) and ("message" in payload or "compositeFault" in payload):
        text = _fault_text(payload.get("compositeFault")) or text_of(payload.get("message")) or "No shipment found"
        return TrackingResult(tracking_number=number, found=False, error=text, raw=payload)
    raise CarrierBadResponse(CARRIER, "HTTP 404 without a PostNord error body", status_code=404)


class PostNordAdapter(CarrierAdapter):
    """PostNord tracking over Track & Trace API v7 (one id per request).

    Inbound pushes: PostNord has no public tracking webhook, so pushes use the inherited generic
    format (`app.carriers.generic_push`) signed with Standard Webhooks.
    """

    code: ClassVar[str] = CARRIER
    name: ClassVar[str] = "PostNord"
    credentials_model: ClassVar[type[BaseModel]] = PostNordCredentials
    sandbox_base_url: ClassVar[str] = "https://atapi2.postnord.com"
    production_base_url: ClassVar[str] = "https://api2.postnord.com"
    max_batch_size: ClassVar[int] = 1

    async def _find(self, number: str) -> tuple[int, Any]:
        credentials: PostNordCredentials = self.credentials  # type: ignore[assignment]
        response = await self.http.request(
            CARRIER,
            "GET",
            f"{self.base_url}{TRACK_PATH.format(id=number)}",
            headers={"Accept": "application/json"},
            params={"apikey": credentials.api_key.get_secret_value(), "locale": "en"},
            ok_statuses=(200, 404),
        )
        return response.status_code, decode_json(CARRIER, response)

    async def track(self, tracking_numbers: Sequence[str]) -> list[TrackingResult]:
        """Track each id with one v7 findByIdentifier call; results in input order.

        An id that breaks the spec's format (10-35 letters/digits) is
        reported found=False without a call. Raises CarrierAuthError
        (401/403, e.g. "Invalid API Key"), CarrierRateLimited (429),
        CarrierUnavailable (5xx, transport), CarrierBadResponse (other).
        """
        results: list[TrackingResult] = []
        for number in tracking_numbers:
            compact = "".join(number.split())
            if not VALID_ID.match(compact):
                results.append(
                    TrackingResult(
                        tracking_number=number,
                        found=False,
                        error="not a PostNord id: 10-35 letters and digits expected",
                    )
                )
                continue
            status_code, payload = await self._find(compact)
            if status_code == 404:
                results.append(_parse_not_found_reply(payload, number))
            elif isinstance(payload, dict):
                results.extend(parse_track_response(payload, [number]))
            else:
                raise CarrierBadResponse(CARRIER, "reply is not a JSON object", status_code=status_code)
        return results

    async def test_credentials(self) -> None:
        """Look up a well-formed unknown id; raises CarrierAuthError if PostNord rejects the key (401/403)."""
        await self._find(CREDENTIAL_PROBE_ID)
