"""DHL adapter: DHL Shipment Tracking – Unified API.

Carrier document followed: DHL OpenAPI "DHL Shipment Tracking API" version
1.4.1 (`openapi-shipment-tracking-unified-1.4.1.yaml`, developer.dhl.com,
api-reference/shipment-tracking):

* `GET {base}/track/shipments?trackingNumber=<one number>` with header
  `DHL-API-Key`; production https://api-eu.dhl.com, test https://api-test.dhl.com
  (canned data, e.g. 00340434292135100186);
* `trackingNumber` is a single string, so one number per request
  (`max_batch_size = 1`); one number can match several shipments (one per
  DHL service) — the one whose `id` equals the number is used;
* 404 `application/problem+json` "No result found" = unknown number;
  401 = bad API key;
* `statusCode` is only `pre-transit | transit | delivered | failure | unknown`;
  the finer meaning (out for delivery, pickup, failed attempt, return) is in
  the free text `status`/`description`, refined by `_TEXT_RULES` below;
* `timestamp` comes with an offset ("…Z") or without one. Naive times are
  local at the event place (the eCommerce sample: out for delivery 06:10 in
  Henderson, NV), unless the reply shows otherwise (`_calibrated_offset`).

Push ("Shipment Tracking – Unified – Push" 1.2.5, DHL's Bruno collection on
developer.dhl.com, sample `push-subscription-request-account.json`): the
subscription names `hook.authentication` `{type: ApiKeyAuthentication,
header, token}`; merchants set header `x-courier-hub-secret` and token = the
integration's webhook secret (`DhlAdapter.webhook_auth_header`). DHL's guide
says the notification reuses the tracking-response structure
(`{"shipments": [Shipment]}`); no verbatim notification was published, so
`parse_push_notification` reads exactly that shape.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.carriers.base import SECRET_HEADER, CarrierAdapter, decode_push_json, track_concurrently
from app.carriers.errors import CarrierBadResponse, WebhookPayloadError
from app.carriers.http import decode_json
from app.carriers.timezones import parse_carrier_datetime, parse_iso, zone_for
from app.carriers.types import Location, TrackingEvent, TrackingResult, TrackingStatus

logger = logging.getLogger(__name__)

TRACK_PATH = "/track/shipments"
TEST_TRACKING_NUMBER = "00340434292135100186"
"""The spec's default `trackingNumber`; used for the credential check."""
CONCURRENT_REQUESTS = 4
"""Parallel single-number requests when `track` is given several numbers."""

# DHL `statusCode` (spec 1.4.1 enum) -> normalized status before text refinement.
STATUS_CODES: dict[str, TrackingStatus] = {
    "pre-transit": TrackingStatus.INFO_RECEIVED,
    "transit": TrackingStatus.IN_TRANSIT,
    "delivered": TrackingStatus.DELIVERED,
    "failure": TrackingStatus.EXCEPTION,
    "unknown": TrackingStatus.UNKNOWN,
}

_ALL = frozenset(STATUS_CODES)
_NOT_DELIVERED = _ALL - {"delivered"}


def _str(value: Any) -> str | None:
    """`value` stripped if it is a non-empty string, else None (the spec's types are not always kept)."""
    return value.strip() or None if isinstance(value, str) else None


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# (pattern on `status` + `description`, status, statusCodes it may refine);
# the first matching rule wins, so the more specific phrases come first.
_TEXT_RULES: tuple[tuple[re.Pattern[str], TrackingStatus, frozenset[str]], ...] = (
    (  # back at the shipper: final
        _rx(
            r"(?<!being )(?<!be )returned to (the )?(shipper|sender)", r"delivered to (the )?(shipper|sender)",
            r"an den absender (zugestellt|zurückgegeben|ausgeliefert)", r"rücksendung .*zugestellt",
            r"retour(zending)? .*afzender (bezorgd|afgeleverd)",
        ),
        TrackingStatus.RETURNED,
        _ALL,
    ),
    (  # on its way back (our vocabulary has no return-in-transit status)
        _rx(
            r"return(ing|ed)? to (the )?(shipper|sender|origin)", r"being returned", r"return to sender",
            r"rücksendung", r"rückversand", r"zurück an den absender", r"an den absender zurück",
            r"retour naar afzender", r"retour à l'expéditeur",
        ),
        TrackingStatus.EXCEPTION,
        _NOT_DELIVERED,
    ),
    (
        _rx(
            r"shipment (was |has been )?cancel+ed", r"label (was |has been )?cancel+ed", r"order cancel+ed",
            r"(sendung|auftrag) (wurde )?storniert",
        ),
        TrackingStatus.CANCELLED,
        _NOT_DELIVERED,
    ),
    (
        _rx(
            r"out for delivery", r"with delivery courier", r"on (the )?vehicle for delivery",
            r"loaded (on|onto|into) (the )?delivery vehicle", r"in das zustellfahrzeug geladen",
            r"zustellfahrzeug", r"in zustellung", r"wird heute zugestellt", r"in bezorging",
            r"onderweg naar (de )?ontvanger", r"en cours de livraison", r"in consegna",
            r"ute för utkörning",
        ),
        TrackingStatus.OUT_FOR_DELIVERY,
        frozenset({"transit", "unknown"}),
    ),
    (
        _rx(
            r"available for (pick.?up|collection)", r"ready for (pick.?up|collection)",
            r"awaiting (pick.?up|collection)", r"can be (picked up|collected)", r"to be (picked up|collected)",
            r"(delivered|arrived) (to|at) .*(parcel ?shop|service ?point|packstation|parcel ?locker|"
            r"pick.?up (point|location)|access point|post office for pick)",
            r"zur abholung", r"abholbereit", r"abholung bereit", r"abholen",
            r"in (die|der) packstation (eingelegt|bereit)", r"liegt .*(packstation|paketshop|filiale)",
            r"ligt klaar", r"kan hämtas", r"disponible en point",
        ),
        TrackingStatus.AVAILABLE_FOR_PICKUP,
        frozenset({"transit", "unknown", "failure"}),
    ),
    (
        _rx(
            r"attempt", r"not delivered", r"could not be delivered", r"unable to deliver",
            r"recipient not (available|at home)", r"no one (available|home)", r"addressee not",
            r"nicht angetroffen", r"zustellversuch", r"konnte nicht zugestellt", r"nicht zugestellt werden",
        ),
        TrackingStatus.FAILED_ATTEMPT,
        frozenset({"transit", "unknown", "failure"}),
    ),
    (
        _rx(
            r"label created", r"shipment information received", r"shipment data", r"electronic(ally)? notif",
            r"awaiting (shipment|processing)", r"elektronisch angekündigt", r"sendungsdaten",
            r"auftragsdaten", r"data (was )?(received|transmitted)",
        ),
        TrackingStatus.INFO_RECEIVED,
        frozenset({"unknown", "pre-transit"}),
    ),
    (
        _rx(r"\bdelivered\b", r"zugestellt"),
        TrackingStatus.DELIVERED,
        frozenset({"unknown"}),
    ),
)  # fmt: skip


def normalize_status(status_code: str | None, *texts: str | None, return_flag: bool = False) -> TrackingStatus:
    """Map a DHL `statusCode` plus its free text onto `TrackingStatus`.

    An unknown `statusCode`, or `unknown` with unrecognized text, gives
    UNKNOWN and a logged warning. `return_flag` (newer API versions) turns a
    `delivered` event into RETURNED.
    """
    code = (_str(status_code) or "").lower()
    text = " ".join(t for t in map(_str, texts) if t)
    for pattern, status, codes in _TEXT_RULES:
        if code in codes and pattern.search(text):
            return status
    if code == "delivered" and return_flag:
        return TrackingStatus.RETURNED
    status = STATUS_CODES.get(code)
    if status is None or status is TrackingStatus.UNKNOWN:
        logger.warning("dhl: unmapped statusCode %r with text %r; using unknown", status_code, text)
        return TrackingStatus.UNKNOWN
    return status


class DhlCredentials(BaseModel):
    """Credentials of a DHL integration (developer.dhl.com app with Shipment Tracking – Unified)."""

    model_config = ConfigDict(extra="forbid", title="DHL credentials")

    api_key: SecretStr = Field(min_length=1, description="API key of the developer.dhl.com app (DHL-API-Key header).")


def _address(place: Any) -> dict[str, Any]:
    if isinstance(place, dict) and isinstance(place.get("address"), dict):
        return place["address"]
    return {}


def _location(place: Any) -> Location:
    address = _address(place)
    country = _str(address.get("countryCode"))
    return Location(
        city=_str(address.get("addressLocality")),
        postal_code=_str(address.get("postalCode")),
        country=country.upper() if country else None,
    )


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
    own = [zone_for(loc.country, loc.city) for loc in locations]
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
            zone = zone_for(fallback.country, fallback.city)
        zones.append(zone)
    return zones


def parse_shipment(tracking_number: str, shipment: dict[str, Any]) -> TrackingResult:
    """One DHL `Shipment` object (spec 1.4.1 `supermodelIoLogisticsTrackingShipment`) as a TrackingResult.

    Events come back oldest first, times in UTC: explicit offsets are
    honoured; naive times are local at the event place (see
    `_calibrated_offset`, `_event_zones`). Events without a parseable
    `timestamp` are skipped with a warning.
    """
    origin, destination = _location(shipment.get("origin")), _location(shipment.get("destination"))
    shipment_return = _is_return(shipment)
    listed = shipment.get("events")
    raw_events = [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []
    locations = [_location(e.get("location")) for e in raw_events]
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

    latest = shipment.get("status") if isinstance(shipment.get("status"), dict) else None
    if latest:
        status = normalize_status(
            latest.get("statusCode"), latest.get("status"), latest.get("description"), return_flag=shipment_return
        )
    else:
        status = events[-1].status if events else TrackingStatus.UNKNOWN

    estimated = None
    frame = shipment.get("estimatedDeliveryTimeFrame")
    eta = shipment.get("estimatedTimeOfDelivery") or (frame.get("estimatedFrom") if isinstance(frame, dict) else None)
    if eta:
        try:
            estimated = parse_carrier_datetime(
                str(eta), zone=calibrated or zone_for(destination.country, destination.city)
            )
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


def parse_tracking_response(tracking_number: str, status_code: int, body: Any) -> TrackingResult:
    """A DHL `GET /track/shipments` reply (200 Shipments or 404 problem) as a TrackingResult.

    Raises CarrierBadResponse when a 200 body is not a Shipments object.
    """
    if status_code == 404:
        detail = body.get("detail") or body.get("title") if isinstance(body, dict) else None
        return TrackingResult(
            tracking_number=tracking_number,
            found=False,
            error=detail or "No shipment with given tracking number found.",
            raw=body if isinstance(body, dict) else {},
        )
    if not isinstance(body, dict) or not isinstance(body.get("shipments", []), list):
        raise CarrierBadResponse("dhl", "tracking reply is not a Shipments object", status_code=status_code)
    shipments = [s for s in body.get("shipments") or [] if isinstance(s, dict)]
    if not shipments:
        return TrackingResult(
            tracking_number=tracking_number, found=False, error="No shipment with given tracking number found.", raw=body
        )
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


class DhlAdapter(CarrierAdapter):
    """DHL through Shipment Tracking – Unified (OpenAPI 1.4.1); Unified Push notifications inbound."""

    code = "dhl"
    name = "DHL"
    credentials_model = DhlCredentials
    sandbox_base_url = "https://api-test.dhl.com"
    production_base_url = "https://api-eu.dhl.com"
    max_batch_size = 1
    webhook_auth_header = SECRET_HEADER
    """The `hook.authentication.header` merchants put in their DHL Push subscription (token = webhook secret)."""

    credentials: DhlCredentials

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[TrackingResult]:
        """Parse one DHL Unified Push notification (`parse_push_notification`); one result per shipment.

        Raises WebhookPayloadError when the body is not JSON or not `{"shipments": [Shipment with id, ...]}`.
        """
        return parse_push_notification(decode_push_json(cls.code, body))

    def _headers(self) -> dict[str, str]:
        return {"DHL-API-Key": self.credentials.api_key.get_secret_value(), "Accept": "application/json"}

    async def _track_one(self, tracking_number: str) -> TrackingResult:
        response = await self.http.request(
            self.code,
            "GET",
            self.base_url + TRACK_PATH,
            headers=self._headers(),
            params={"trackingNumber": tracking_number},
            ok_statuses=(200, 404),
        )
        return parse_tracking_response(tracking_number, response.status_code, decode_json(self.code, response))

    async def track(self, tracking_numbers: Sequence[str]) -> list[TrackingResult]:
        """One result per tracking number, in input order (one DHL request per number).

        Unknown numbers (HTTP 404 or no shipments) give found=False. Raises
        CarrierAuthError (401/403), CarrierRateLimited, CarrierUnavailable,
        CarrierBadResponse for failures of any request (the first to fail; the
        requests still running are cancelled).
        """
        return await track_concurrently(tracking_numbers, self._track_one, limit=CONCURRENT_REQUESTS)

    async def test_credentials(self) -> None:
        """Look up DHL's default test number; 401/403 raise CarrierAuthError, 200 or 404 mean the key works."""
        await self.http.request(
            self.code,
            "GET",
            self.base_url + TRACK_PATH,
            headers=self._headers(),
            params={"trackingNumber": TEST_TRACKING_NUMBER},
            ok_statuses=(200, 404),
        )
