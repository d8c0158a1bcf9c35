"""UPS adapter: Track API v1, Track Alert pushes, Shipping API v2409 (book, void); OAuth2 client credentials.

I/O only: requests are built and replies parsed by the pure functions of
`app.carriers.ups.tracking` (track, Track Alert) and `app.carriers.ups.shipping`
(book, void; customs in `app.carriers.ups.customs`), against the UPS
documents named there (copies in `carrier-samples/ups/`). The token comes
from `openapi-oauth-client-credentials.yaml` — `POST /security/v1/oauth/token`,
HTTP Basic client_id:client_secret, form `grant_type=client_credentials`.

Every call carries `transId` (at most 32 characters; for a booking derived
from the merchant's idempotency key, so UPS sees a retry under the same id)
and `transactionSrc`. Error codes 2500xx (e.g. 250003 "Invalid Access License
number") are credential failures -> CarrierAuthError.

UPS cannot: book to a UPS Access Point from `service_point_id` alone (the
Shipping API needs the access point's name and address, which
`ShipmentRequest` does not carry; see `shipping.validate_request`), label
in PDF natively (GIF labels are converted), or void after its void window
(UPS answers e.g. 190117, raised as CarrierRejected).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence

import httpx

from app.carriers.base import blank_number_result, decode_push_json, track_concurrently
from app.carriers.errors import CarrierAuthError, CarrierBadResponse, WebhookPayloadError
from app.carriers.http import decode_json
from app.carriers.oauth_adapter import OAuthClientCredentialsAdapter
from app.carriers.shipping import BookedShipment, ShipmentRequest, VoidRequest
from app.carriers.types import TrackingResult
from app.carriers.ups import shipping, tracking
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

    async def create_shipment(self, request: ShipmentRequest) -> BookedShipment:
        """Book `request` with `POST /api/shipments/v2409/ship`; one tracking number and label per parcel.

        `shipping.validate_request` runs first (no call when it fails). Sent
        once (`idempotent=False`: retried only where UPS cannot have acted),
        with `transId` from the idempotency key. Raises ShipmentRequestInvalid,
        CarrierRejected (UPS's error list), CarrierAuthError (401 after one
        token refresh, 403, 2500xx), CarrierRateLimited, CarrierUnavailable
        (`outcome_unknown` after a lost reply), CarrierBadResponse.
        """
        shipping.validate_request(request, self.ups_credentials)
        transaction = shipping.transaction_id(request.idempotency_key)
        body = shipping.build_shipment_request(request, self.ups_credentials, transaction=transaction)
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
