"""UPS adapter: Track API v1, Track Alert pushes, Shipping API v2409 (book, void), Locator v3 (Access Points),
Address Validation v2 (street level), Rating API v2409 (`app.carriers.ups.rates`); OAuth2 client credentials.

I/O only: requests are built and replies parsed by the pure functions of
`app.carriers.ups.tracking` (track, Track Alert), `app.carriers.ups.shipping`
(book, void; customs in `app.carriers.ups.customs`), `app.carriers.ups.servicepoints`
(Access Point search and look-up; hours in `app.carriers.ups.hours`) and
`app.carriers.ups.addresses` (validation), against the UPS documents named
there (copies in `carrier-samples/ups/`). The token comes
from `openapi-oauth-client-credentials.yaml` — `POST /security/v1/oauth/token`,
HTTP Basic client_id:client_secret, form `grant_type=client_credentials`.

Every call carries `transId` (at most 32 characters; for a booking derived
from the merchant's idempotency key, so UPS sees a retry under the same id)
and `transactionSrc`. Error codes 2500xx (e.g. 250003 "Invalid Access License
number") are credential failures -> CarrierAuthError.

A booking with `service_point_id` (a UPS Access Point's public id, as
`find_service_points` lists it) first looks the point up through the
Locator (a read), because the Shipping API needs its name and address
beside the id (`AlternateDeliveryAddress`, ShipmentIndicationType 01: hold
for pickup at the Access Point); an id UPS does not know is refused
(ShipmentRequestInvalid on `service_point_id`) and nothing is booked.

UPS cannot: label in PDF natively (GIF labels are converted), void after
its void window (UPS answers e.g. 190117, raised as CarrierRejected), or
validate addresses at street level outside the US and PR (refused without
a call).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from app.carriers.base import blank_number_result, decode_push_json, track_concurrently
from app.carriers.errors import (
    CarrierAuthError,
    CarrierBadResponse,
    CarrierRejected,
    CarrierUnavailable,
    ShipmentRequestInvalid,
    WebhookPayloadError,
)
from app.carriers.http import decode_json
from app.carriers.locations import AddressValidation, ServicePoint, ServicePointQuery
from app.carriers.oauth_adapter import OAuthClientCredentialsAdapter
from app.carriers.rating import RateQuote, RateRequest
from app.carriers.shipping import Address, BookedShipment, FieldError, ShipmentRequest, VoidRequest
from app.carriers.types import TrackingResult
from app.carriers.ups import addresses, rates, servicepoints, shipping, tracking
from app.carriers.ups.schemas import UpsCredentials, error_pairs
from app.carriers.ups.units import SERVICES

logger = logging.getLogger(__name__)

__all__ = ["TRANSACTION_SRC", "UpsAdapter", "UpsCredentials"]

CARRIER = "ups"
TOKEN_PATH = "/security/v1/oauth/token"
TRANSACTION_SRC = "courier-hub"
"""`transactionSrc` header: identifies the calling application to UPS."""
MAX_CONCURRENT_REQUESTS = 5
"""Parallel track requests when `track()` is given several numbers (UPS takes one per request)."""
BOOKING_ERROR_STATUSES = (400, 403, 404, 422)
"""4xx replies of ship/void whose UPS error list we read (401 is the token's, see `authorized_request`)."""


class UpsAdapter(OAuthClientCredentialsAdapter):
    """UPS through the Track API v1 (one number per request), Track Alert and the Shipping API v2409."""

    code = "ups"
    name = "UPS"
    credentials_model = UpsCredentials
    sandbox_base_url = "https://wwwcie.ups.com"
    production_base_url = "https://onlinetools.ups.com"
    max_batch_size = 1
    services = SERVICES
    token_path = TOKEN_PATH
    token_basic_auth = True  # UPS OAuth Client Credentials: HTTP Basic client_id:client_secret
    webhook_auth_header = "x-api-key"
    """Track Alert (`openapi-track-alert.yaml`, `webhooks.TrackingEvent`) sends the webhook credential
    configured for the subscription (v1 `destination.credential`, v2 "Manage Webhook Credentials") in the
    optional `x-api-key` header; the merchant sets that credential to the integration's webhook secret."""

    @property
    def ups_credentials(self) -> UpsCredentials:
        """The integration's credentials as UpsCredentials (validated by the registry)."""
        return self.credentials  # type: ignore[return-value]

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[TrackingResult]:
        """Parse a UPS Track Alert push: one `TrackingEvent` object (UPS's documented body,
        `openapi-track-alert.yaml` `webhooks.TrackingEvent`) or a JSON list of them; one
        single-event TrackingResult per event, in body order (`tracking.parse_track_alert_event`).

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
                results.append(tracking.parse_track_alert_event(event))
            except CarrierBadResponse as exc:
                raise WebhookPayloadError(CARRIER, exc.message) from None
        return results

    def request_headers(self) -> dict[str, str]:
        """UPS's `transId` (new for each request, at most 32 characters) and `transactionSrc`."""
        return {"transId": uuid.uuid4().hex, "transactionSrc": TRANSACTION_SRC}

    def error_detail(self, response: httpx.Response) -> str:
        """The `code: message` pairs of a UPS error body, else the HTTP status."""
        try:
            errors = error_pairs(decode_json(CARRIER, response))
        except CarrierBadResponse:
            errors = []
        return tracking.errors_text(errors) or f"HTTP {response.status_code}"

    # ----------------------------------------------------------------------- track

    async def _track_one(self, number: str) -> TrackingResult:
        if not number:
            return blank_number_result(number)
        path, params = tracking.build_track_request(number, locale=self.locale)
        response = await self.authorized_request(
            "GET", f"{self.base_url}{path}", operation="track", params=params, ok_statuses=(200, 400, 404)
        )
        if response.status_code == 404 and not response.content.strip():
            return TrackingResult(tracking_number=number, found=False, error="UPS: HTTP 404 (no body)")
        payload = decode_json(CARRIER, response)
        errors = error_pairs(payload)
        if any(code.startswith(shipping.AUTH_ERROR_PREFIX) for code, _ in errors):
            raise CarrierAuthError(CARRIER, tracking.errors_text(errors), status_code=response.status_code)
        if response.status_code == 404 or (errors and all(code in tracking.NOT_FOUND_CODES for code, _ in errors)):
            error = tracking.errors_text(errors) or "UPS: tracking information not found"
            raw = dict(payload) if isinstance(payload, Mapping) else {}
            return TrackingResult(tracking_number=number, found=False, error=error, raw=raw)
        if response.status_code != 200 or errors:
            detail = tracking.errors_text(errors) or f"HTTP {response.status_code}"
            raise CarrierBadResponse(CARRIER, f"track request rejected: {detail}", status_code=response.status_code)
        results = tracking.parse_track_response(payload, inquiry_number=number)
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

    # ----------------------------------------------------------------------- book / void

    def validate_shipment(self, request: ShipmentRequest) -> None:
        """The base checks, then `shipping.validate_request` (offline: a `service_point_id` is checked for its form only)."""
        super().validate_shipment(request)
        shipping.validate_request(request, self.ups_credentials)

    async def create_shipment(self, request: ShipmentRequest) -> BookedShipment:
        """Book `request` with `POST /api/shipments/v2409/ship`; one tracking number and label per parcel.

        `shipping.validate_request` runs first (no call when it fails); with
        `service_point_id` the Access Point is then looked up through the
        Locator (`_access_point`; unknown -> ShipmentRequestInvalid, nothing
        booked). Sent once (`idempotent=False`: retried only where UPS cannot
        have acted), with `transId` from the idempotency key. Raises
        ShipmentRequestInvalid, CarrierRejected (UPS's error list),
        CarrierAuthError (401 after one token refresh, 403, 2500xx),
        CarrierRateLimited, CarrierUnavailable (`outcome_unknown` after a lost
        reply), CarrierBadResponse.
        """
        shipping.validate_request(request, self.ups_credentials)
        access_point = await self._access_point(request) if request.service_point_id else None
        transaction = shipping.transaction_id(request.idempotency_key)
        body = shipping.build_shipment_request(
            request, self.ups_credentials, access_point=access_point, transaction=transaction
        )
        response = await self.authorized_request(
            "POST",
            f"{self.base_url}{shipping.SHIP_PATH}",
            operation="create_shipment",
            headers={"transId": transaction},
            json=body,
            ok_statuses=(200, *BOOKING_ERROR_STATUSES),
            idempotent=False,
        )
        payload = decode_json(CARRIER, response)
        if response.status_code != 200:
            raise shipping.rejection(payload, status_code=response.status_code, operation="create_shipment")
        return shipping.parse_shipment_response(payload, request)

    async def void_shipment(self, request: VoidRequest) -> None:
        """Void a whole booked shipment with `DELETE /api/shipments/v2409/void/cancel/{id}`.

        Raises CarrierRejected with UPS's codes/messages when UPS refuses
        (e.g. 190117, past the void window) or leaves a package not voided;
        CarrierAuthError, CarrierRateLimited, CarrierUnavailable, CarrierBadResponse as for booking.
        """
        path, params = shipping.build_void_request(request)
        response = await self.authorized_request(
            "DELETE",
            f"{self.base_url}{path}",
            operation="void_shipment",
            params=params or None,
            ok_statuses=(200, *BOOKING_ERROR_STATUSES),
        )
        payload = decode_json(CARRIER, response)
        if response.status_code != 200:
            raise shipping.rejection(payload, status_code=response.status_code, operation="void_shipment")
        shipping.parse_void_response(payload, request)

    # ----------------------------------------------------------------------- rating

    async def rate(self, request: RateRequest) -> list[RateQuote]:
        """Every UPS product's price and transit time for `request` (`POST /api/rating/v2409/Shoptimeintransit`).

        Raises CarrierRejected (UPS's error list, e.g. an unserved lane), CarrierAuthError (401 after one
        token refresh, 403, 2500xx), CarrierRateLimited, CarrierUnavailable, CarrierBadResponse.
        """
        response = await self.authorized_request(
            "POST",
            f"{self.base_url}{rates.RATE_PATH}",
            operation="rate",
            json=rates.build_rate_request(request, account_number=self.ups_credentials.account_number),
            ok_statuses=(200, 400, 404, 422),
        )
        payload = decode_json(CARRIER, response, exact_numbers=True)
        if response.status_code != 200:
            raise shipping.rejection(payload, status_code=response.status_code, operation="rate")
        return rates.parse_rate_response(payload)

    # ----------------------------------------------------------------------- Locator / Address Validation

    async def _locate(self, body: dict[str, Any], *, operation: str) -> tuple[int, Any]:
        response = await self.authorized_request(
            "POST",
            f"{self.base_url}{servicepoints.SEARCH_PATH}",
            operation=operation,
            params={"Locale": self.locale},
            json=body,
            ok_statuses=(200, 400, 404),
        )
        payload = decode_json(CARRIER, response) if response.content.strip() else {}
        errors = error_pairs(payload)
        if response.status_code == 200 or servicepoints.no_locations(errors):
            return response.status_code, payload
        if response.status_code == 404 and not errors:
            return 404, {}
        raise shipping.rejection(payload, status_code=response.status_code, operation=operation)

    async def find_service_points(self, query: ServicePointQuery) -> list[ServicePoint]:
        """Active UPS Access Points near `query`, nearest first (Locator reqOption 64; `servicepoints`).

        Ids are the public Access Point ids a booking takes as
        `service_point_id`. No point found (an empty reply, 404, or UPS's "no
        locations" error) gives []. Raises CarrierRejected (UPS's error list),
        CarrierAuthError, CarrierRateLimited, CarrierUnavailable, CarrierBadResponse.
        """
        status, payload = await self._locate(
            servicepoints.build_search_request(query, locale=self.locale), operation="find_service_points"
        )
        if status != 200:
            return []
        return servicepoints.parse_search_response(payload)[: query.limit]

    async def _access_point(self, request: ShipmentRequest) -> Address:
        """The Access Point of `request.service_point_id` as the address to book to, looked up through the Locator.

        Nothing is booked yet, so every failure here says so: ShipmentRequestInvalid
        (field `service_point_id`) when UPS does not know the point, it is not
        active-available or has no usable address; CarrierUnavailable with
        `outcome_unknown` False for a look-up that timed out, failed or could not
        be read; CarrierAuthError and CarrierRateLimited as they come.
        """
        point_id = (request.service_point_id or "").strip()

        def invalid(message: str) -> ShipmentRequestInvalid:
            return ShipmentRequestInvalid(CARRIER, [FieldError(message, "service_point_id")])

        try:
            status, payload = await self._locate(
                servicepoints.build_lookup_request(point_id, request.recipient, locale=self.locale),
                operation="access_point_lookup",
            )
            drop = servicepoints.find_access_point(payload, point_id) if status == 200 else None
            if drop is None:
                raise invalid(f"UPS knows no Access Point {point_id}")
            code, description = servicepoints.access_point_status(drop)
            if code not in (None, servicepoints.ACTIVE_AVAILABLE):
                raise invalid(f"UPS Access Point {point_id} is not available ({description or code})")
            return servicepoints.access_point_address(drop, request.recipient)
        except CarrierRejected as exc:
            raise invalid(f"UPS did not find Access Point {point_id}: {exc.message}") from None
        except (CarrierUnavailable, CarrierBadResponse) as exc:
            raise CarrierUnavailable(
                CARRIER, f"Access Point look-up failed, nothing was booked: {exc.message}", outcome_unknown=False
            ) from exc

    async def validate_address(self, address: Address) -> AddressValidation:
        """UPS's street-level verdict on a US/PR `address` (request option 3: validation + classification).

        Raises CarrierRejected (field `country`, without a call) outside the
        US and PR, CarrierRejected with UPS's error list for a refused request,
        CarrierAuthError, CarrierRateLimited, CarrierUnavailable, CarrierBadResponse.
        """
        addresses.check_country(address)
        response = await self.authorized_request(
            "POST",
            f"{self.base_url}{addresses.PATH}",
            operation="validate_address",
            params=addresses.query_params(),
            json=addresses.build_validation_request(address),
            ok_statuses=(200, 400),
        )
        payload = decode_json(CARRIER, response)
        if response.status_code != 200:
            raise shipping.rejection(payload, status_code=response.status_code, operation="validate_address")
        return addresses.parse_validation_response(payload, address)
