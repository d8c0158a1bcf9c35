"""Bring (Posten Bring, Mybring) adapter: the thin I/O layer for tracking, Event Cast pushes, booking and pickup points.

Request building and reply parsing live in the pure modules:
`app.carriers.bring.tracking` (Tracking API v2 RAML `carrier-samples/bring/tracking-api-v2.raml`,
Event Cast callback `event-cast-webhook-in-transit.json`), `shipping`
(Booking API `booking-api.raml`) and `servicepoints` (Pickup Point API
`pickup-point-api.raml`); tables in `units`, reply models in `schemas`,
description text in `descriptions`.

* Auth: the Mybring headers `X-Mybring-API-Uid`, `X-Mybring-API-Key` and
  (optional) `X-Bring-Client-URL` on every call.
* Event Cast: Bring documents no signature for callbacks but sends any
  custom headers the subscriber configures: we require the webhook secret in
  `x-courier-hub-secret` (`BringAdapter.webhook_auth_header`).
* Credential check: Booking API customers endpoint
  `GET {base}/booking/api/customers` (`booking-api.raml`; lists the Mybring
  user's customer numbers; needs valid Mybring headers).
* Booking: `POST {base}/booking/api/booking` with the integration's Mybring
  customer number (`customer_number`, required to book); the sandbox
  environment books with `testIndicator: true` (Bring's test mode on the
  production host). The label PDF behind `links.labels` is then fetched
  (https bring.com/mybring.com only, with the Mybring headers; Bring answers
  a 302 to its storage, followed without the headers). Bring's Booking API
  has no cancel endpoint, so void is not offered.
* Pickup points: `GET {base}/pickuppoint/api/pickuppoint/{country}/postalCode/{code}.json`.
* Rates: Shipping Guide API v2 `POST {base}/shippingguide/api/v2/products` (`app.carriers.bring.rates`),
  with the customer number when the integration has one (net prices of the agreement).

Bring has no separate sandbox host: both environments use https://api.bring.com
(the static numbers TESTPACKAGEDELIVERED, TESTPACKAGEATPICKUPPOINT, ... return
canned tracking data in production).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.carriers.base import SECRET_HEADER, CarrierAdapter, decode_push_json
from app.carriers.bring import faults, rates, servicepoints, shipping
from app.carriers.bring.tracking import CARRIER, build_track_request, parse_event_cast, parse_track_response
from app.carriers.bring.units import SERVICES
from app.carriers.errors import CarrierBadResponse, CarrierError, CarrierRejected, WebhookPayloadError
from app.carriers.http import decode_json
from app.carriers.locations import ServicePoint, ServicePointQuery
from app.carriers.rating import RateQuote, RateRequest
from app.carriers.shipping import BookedShipment, Service, ShipmentRequest
from app.carriers.types import TrackingResult

CUSTOMERS_PATH = "/booking/api/customers"
BOOKING_REJECTION_STATUSES = (400, 404, 409, 422)
"""4xx answers to a booking whose body (`consignments[].errors`) we read; 401/403 are auth errors, 5xx unavailable."""
LOCATOR_REJECTION_STATUSES = (400, 404, 422)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_LABEL_REDIRECTS = 3


class BringCredentials(BaseModel):
    """A Mybring API user: login id, API key and an optional client URL."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    api_uid: str = Field(min_length=1, description="Mybring login id (the user's e-mail address).")
    api_key: SecretStr = Field(description="The Mybring user's API key.")
    client_url: str | None = Field(
        default=None, description="Sent as X-Bring-Client-URL: a URL identifying the integrating site."
    )
    customer_number: str | None = Field(
        default=None,
        max_length=35,
        description="Mybring API customer number (GET /booking/api/customers, e.g. PARCELS_NORWAY-10001234567); "
        "required to book labels.",
    )


class BringAdapter(CarrierAdapter):
    """Bring: tracking (Tracking API v2, one number per request), Event Cast pushes, booking (Booking API),
    pickup points (Pickup Point API) and rates (Shipping Guide API v2). No void: the Booking API cannot cancel
    a booked consignment."""

    code: ClassVar[str] = CARRIER
    name: ClassVar[str] = "Bring"
    credentials_model: ClassVar[type[BaseModel]] = BringCredentials
    # Bring has no tracking sandbox; its static TEST* numbers work on the production host.
    sandbox_base_url: ClassVar[str] = "https://api.bring.com"
    production_base_url: ClassVar[str] = "https://api.bring.com"
    max_batch_size: ClassVar[int] = 1
    services: ClassVar[tuple[Service, ...]] = SERVICES
    webhook_auth_header: ClassVar[str | None] = SECRET_HEADER
    """Event Cast lets subscribers configure custom callback headers; merchants add this one with the webhook secret."""

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[TrackingResult]:
        """Parse one Event Cast callback (`{status, id, shipment, package, created, pushed}`, Bring
        developer site `content/api/event-cast/index.md`, sample `event-cast-webhook-in-transit.json`)
        into one single-event TrackingResult (`tracking.parse_event_cast`).

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
        """The Mybring authentication headers of every call."""
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
            request = build_track_request(self.base_url, number)
            response = await self.http.request(
                CARRIER, "GET", request.url, headers=self._headers(), params=request.params, ok_statuses=(200, 400, 404)
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

    # ------------------------------------------------------------------ booking

    def validate_shipment(self, request: ShipmentRequest) -> None:
        """The base checks, then Bring's (`shipping.validate_request`: customer number, PDF only, pickup point, ...)."""
        super().validate_shipment(request)
        shipping.validate_request(request, customer_number=self._credentials().customer_number)

    def _credentials(self) -> BringCredentials:
        return self.credentials  # type: ignore[return-value]

    async def create_shipment(self, request: ShipmentRequest) -> BookedShipment:
        """Book `request` with `POST /booking/api/booking`, then fetch its label PDF.

        Validation runs first (ShipmentRequestInvalid, no call). The booking is
        sent once (`idempotent=False`); `testIndicator` is true in the sandbox
        environment. Raises CarrierRejected (Bring's `errors`, codes such as
        BOOK-INPUT-014-RECIPIENT, on a 4xx or a 2xx without confirmation),
        CarrierAuthError (401/403), CarrierUnavailable (5xx, transport),
        CarrierBadResponse (with the status for an unreadable 4xx; without a
        status once Bring has booked: an unreadable confirmation or a label
        that cannot be fetched leaves the outcome unknown).
        """
        self.validate_shipment(request)
        customer_number = self._credentials().customer_number or ""
        body = shipping.build_booking_request(
            request, customer_number=customer_number, test_indicator=self.environment == "sandbox"
        )
        response = await self.http.request(
            CARRIER,
            "POST",
            f"{self.base_url}{shipping.BOOKING_PATH}",
            headers={**self._headers(), "Content-Type": "application/json"},
            json=body,
            ok_statuses=(200, 201, *BOOKING_REJECTION_STATUSES),
            idempotent=False,
        )
        if response.status_code in BOOKING_REJECTION_STATUSES:
            payload = decode_json(CARRIER, response)
            refused = faults.rejection(payload, status_code=response.status_code)
            if refused is None:
                raise CarrierBadResponse(
                    CARRIER,
                    f"booking refused with HTTP {response.status_code} and no Bring errors",
                    status_code=response.status_code,
                )
            raise refused
        try:
            payload = decode_json(CARRIER, response)
            confirmation = shipping.confirmation_of(payload)
            label = shipping.LabelFile(await self._fetch_label(shipping.label_url(confirmation)))
            return shipping.parse_booking_response(payload, request, label=label)
        except CarrierRejected as exc:
            if exc.status_code is None:
                exc.status_code = response.status_code
            raise
        except CarrierError as exc:
            # Bring answered 2xx: whatever fails now leaves the outcome unknown (never sent again).
            detail = f"Bring answered the booking (HTTP {response.status_code}), but {exc.message}"
            raise CarrierBadResponse(CARRIER, detail) from exc

    async def _fetch_label(self, url: str) -> bytes:
        """The label file behind a Bring label link, following Bring's redirect to its storage (https only).

        The Mybring headers go only to bring.com/mybring.com hosts. Raises
        CarrierBadResponse (a redirect elsewhere than https, too many
        redirects, an empty body) and the transport errors of CarrierHttp.
        """
        for _ in range(MAX_LABEL_REDIRECTS + 1):
            headers = {**self._headers(), "Accept": "application/pdf"} if shipping.is_bring_host(url) else None
            response = await self.http.request(
                CARRIER, "GET", url, headers=headers, ok_statuses=(200, *REDIRECT_STATUSES)
            )
            if response.status_code not in REDIRECT_STATUSES:
                if not response.content:
                    raise CarrierBadResponse(CARRIER, "the label link answered an empty body")
                return response.content
            location = response.headers.get("Location", "")
            url = str(response.request.url.join(location)) if location else ""
            if not url.startswith("https://"):
                raise CarrierBadResponse(CARRIER, "the label link redirected to a non-https location; not followed")
        raise CarrierBadResponse(CARRIER, "the label link redirected too often")

    # ------------------------------------------------------------ pickup points

    async def find_service_points(self, query: ServicePointQuery) -> list[ServicePoint]:
        """Bring pickup points (shops, lockers, post offices) near a postal code (+ street) in NO, DK, SE, FI.

        One `GET /pickuppoint/api/pickuppoint/{country}/postalCode/{code}.json`
        with `street`/`streetNumber` and `numberOfResponses=query.limit`; points
        in Bring's order (driving time). [] when Bring lists none. Raises
        CarrierRejected (a country Bring does not cover, no call; a 400/404/422
        with an error body, e.g. an unknown postal code), CarrierAuthError,
        CarrierUnavailable, CarrierRateLimited, CarrierBadResponse.
        """
        request = servicepoints.build_pickup_point_request(self.base_url, query)
        response = await self.http.request(
            CARRIER,
            "GET",
            request.url,
            headers=self._headers(),
            params=request.params,
            ok_statuses=(200, 204, *LOCATOR_REJECTION_STATUSES),
        )
        refused = response.status_code in LOCATOR_REJECTION_STATUSES
        if response.status_code == 204 or not response.content.strip():
            if refused:
                detail = f"pickup point search refused (HTTP {response.status_code})"
                raise CarrierRejected(CARRIER, detail, status_code=response.status_code)
            return []
        payload = decode_json(CARRIER, response)
        if refused:
            if isinstance(payload, dict) and payload.get("pickupPoint") == []:
                return []
            detail = servicepoints.error_text(payload) or f"HTTP {response.status_code}"
            raise CarrierRejected(CARRIER, f"pickup point search refused: {detail}", status_code=response.status_code)
        return servicepoints.parse_pickup_points(payload, limit=query.limit)

    # ------------------------------------------------------------------ rating

    async def rate(self, request: RateRequest) -> list[RateQuote]:
        """The price and expected delivery of every Bring product we book on the lane, from the Shipping Guide
        (`POST /shippingguide/api/v2/products`, see `app.carriers.bring.rates`); [] when Bring finds none applicable.

        Raises CarrierRejected (a lane none of our products serves, no call; a 400/404/422 from Bring),
        CarrierAuthError (401/403), CarrierRateLimited (429), CarrierUnavailable, CarrierBadResponse.
        """
        body = rates.build_rate_request(request, customer_number=self._credentials().customer_number)
        response = await self.http.request(
            CARRIER,
            "POST",
            f"{self.base_url}{rates.PRODUCTS_PATH}",
            operation="rate",
            headers={**self._headers(), "Content-Type": "application/json"},
            json=body,
            ok_statuses=(200, *rates.REJECTION_STATUSES),
        )
        if response.status_code in rates.REJECTION_STATUSES:
            raise rates.rejection(response.status_code, response.text)
        return rates.parse_rate_response(decode_json(CARRIER, response, exact_numbers=True))
