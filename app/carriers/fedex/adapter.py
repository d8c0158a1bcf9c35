"""FedEx adapter: Track API v1, Ship API 1.0.0, Address Validation API 1.0.0 and Location Search API 1.0.0
over OAuth2 client credentials (I/O only).

Documents followed (copies in `carrier-samples/fedex/`): `openapi-track-api-v1.json`
(tracking; parsed in `app.carriers.fedex.tracking`), `openapi-ship-api.json`
(booking and cancel; built and parsed in `app.carriers.fedex.shipping`),
`openapi-address-validation-api.json` (`app.carriers.fedex.addresses`),
`openapi-location-search-api.json` (Hold at Location points; `app.carriers.fedex.servicepoints`),
the Rate API (`POST /rate/v1/rates/quotes`; `app.carriers.fedex.rates`),
and FedEx API Authorization: `POST /oauth/token`, form
`grant_type=client_credentials&client_id&client_secret`.

Every call carries `X-locale` and an `x-customer-transaction-id` (a new UUID,
or for a booking the value derived from the merchant's idempotency key, so
FedEx can match a retry). FedEx's error body is read for 4xx answers
(`CarrierRejected` for bookings and cancels).

Labels are asked for inline (base64). If FedEx still answers a document with
only a `url`, the adapter downloads it (GET, https on a fedex.com host only;
the bearer token is sent only to the API host itself); another URL is a
CarrierBadResponse.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from app.carriers.base import blank_number_result
from app.carriers.errors import CarrierBadResponse, CarrierError
from app.carriers.fedex import addresses, rates, servicepoints, shipping
from app.carriers.fedex.credentials import FedexCredentials
from app.carriers.fedex.errors import errors_text, parse_errors
from app.carriers.fedex.tracking import MAX_TRACKING_NUMBERS, TRACK_PATH, build_track_request, parse_track_response, result_for
from app.carriers.fedex.units import SERVICES
from app.carriers.http import decode_json
from app.carriers.oauth_adapter import OAuthClientCredentialsAdapter
from app.carriers.locations import AddressValidation, ServicePoint, ServicePointQuery
from app.carriers.rating import RateQuote, RateRequest
from app.carriers.shipping import Address, BookedShipment, ShipmentRequest, VoidRequest
from app.carriers.types import TrackingResult

__all__ = ["FedexAdapter", "FedexCredentials"]

logger = logging.getLogger(__name__)

CARRIER = "fedex"
TOKEN_PATH = "/oauth/token"
REJECTION_STATUSES = (400, 404, 409, 422)
"""4xx answers whose FedEx error body we read (`ErrorResponseVO`); 401/403 are auth errors, 5xx unavailable."""
QUERY_REJECTION_STATUSES = (400, 422)
"""4xx answers of the address and location look-ups that carry FedEx's verdict on the query (its 404 is a
missing resource, not a refusal: CarrierBadResponse)."""


def _errors_text(response: httpx.Response) -> str:
    try:
        errors = parse_errors(decode_json(CARRIER, response))
    except CarrierBadResponse:
        errors = []
    return errors_text(errors) or f"HTTP {response.status_code}"


class FedexAdapter(OAuthClientCredentialsAdapter):
    """FedEx: tracking, booking (labels, multi-piece, customs + commercial invoice, Hold at Location), cancel,
    address validation and the Hold at Location point search.

    Inbound pushes: FedEx publishes no webhook body we could parse, so pushes use the inherited
    generic format (`app.carriers.generic_push`) signed with Standard Webhooks.
    """

    code = "fedex"
    name = "FedEx"
    credentials_model = FedexCredentials
    sandbox_base_url = "https://apis-sandbox.fedex.com"
    production_base_url = "https://apis.fedex.com"
    max_batch_size = MAX_TRACKING_NUMBERS
    services = SERVICES
    token_path = TOKEN_PATH
    token_basic_auth = False  # FedEx API Authorization: client_id/client_secret in the form body

    @property
    def fedex_credentials(self) -> FedexCredentials:
        """The integration's credentials, typed."""
        return self.credentials  # type: ignore[return-value]

    def request_headers(self) -> dict[str, str]:
        """FedEx's `X-locale` and a new `x-customer-transaction-id` for each request."""
        return {"X-locale": self.locale, "x-customer-transaction-id": str(uuid.uuid4())}

    def error_detail(self, response: httpx.Response) -> str:
        """The `code: message` pairs of a FedEx error body, else the HTTP status."""
        return _errors_text(response)

    # ------------------------------------------------------------------ tracking

    async def track(self, tracking_numbers: Sequence[str]) -> list[TrackingResult]:
        """Track FedEx numbers (any count; sent in requests of at most 30); one result per input, in input order.

        Blank numbers give `found=False` without a request. Raises CarrierAuthError
        (credentials/token rejected), CarrierBadResponse (FedEx 400 such as
        TRACKING.TRACKINGNUMBER.EMPTY, or an unparseable reply), CarrierRateLimited,
        CarrierUnavailable.
        """
        wanted = [number.strip() for number in tracking_numbers]
        unique = list(dict.fromkeys(number for number in wanted if number))
        found: dict[str, TrackingResult] = {}
        for start in range(0, len(unique), MAX_TRACKING_NUMBERS):
            chunk = unique[start : start + MAX_TRACKING_NUMBERS]
            response = await self.authorized_request(
                "POST",
                f"{self.base_url}{TRACK_PATH}",
                operation="track",
                json=build_track_request(chunk),
                ok_statuses=(200, 400),
            )
            if response.status_code == 400:
                raise CarrierBadResponse(CARRIER, f"track request rejected: {_errors_text(response)}", status_code=400)
            for result in parse_track_response(decode_json(CARRIER, response)):
                found.setdefault(result.tracking_number, result)
        return [result_for(number, found) if number else blank_number_result(number) for number in wanted]

    # ------------------------------------------------------------------ booking

    def validate_shipment(self, request: ShipmentRequest) -> None:
        """The base checks, then FedEx's own (`shipping.validate_request`): raises ShipmentRequestInvalid."""
        super().validate_shipment(request)
        shipping.validate_request(request, self.fedex_credentials)

    async def create_shipment(self, request: ShipmentRequest) -> BookedShipment:
        """Book `request` with `POST /ship/v1/shipments` and return its tracking numbers, labels and price.

        Validation (`shipping.validate_request`) runs first: ShipmentRequestInvalid
        before any call. The booking is sent once (`idempotent=False`) with the
        merchant's idempotency key as `x-customer-transaction-id`. Raises
        CarrierRejected (FedEx's errors, e.g. ACCOUNTNUMBER.REGISTRATION.REQUIRED),
        CarrierAuthError (401 twice / 403), CarrierUnavailable (5xx, transport;
        `outcome_unknown` after a timeout), CarrierBadResponse (unreadable reply).
        """
        credentials = self.fedex_credentials
        shipping.validate_request(request, credentials)
        body = shipping.build_shipment_request(
            request, account_number=credentials.account_number, pickup_type=credentials.pickup_type
        )
        headers = {}
        transaction_id = shipping.customer_transaction_id(request.idempotency_key)
        if transaction_id:
            headers["x-customer-transaction-id"] = transaction_id
        response = await self.authorized_request(
            "POST",
            f"{self.base_url}{shipping.SHIP_PATH}",
            operation="create shipment",
            headers=headers,
            json=body,
            ok_statuses=(200, 201, *REJECTION_STATUSES),
            idempotent=False,
        )
        payload = decode_json(CARRIER, response)
        if response.status_code in REJECTION_STATUSES:
            raise shipping.rejection(payload, status_code=response.status_code, operation="shipment")
        try:
            fetched = {url: await self._fetch_document(url) for url in shipping.document_urls(payload)}
            return shipping.parse_shipment_response(payload, request, fetched=fetched)
        except CarrierError as exc:
            # FedEx has booked: whatever fails now leaves the outcome unknown, never a refusal to retry.
            raise CarrierBadResponse(CARRIER, f"FedEx booked the shipment, but {exc.message}") from exc

    async def _fetch_document(self, url: str) -> bytes:
        """The bytes of a document FedEx gave only as a URL (https, fedex.com hosts only)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not (host == "fedex.com" or host.endswith(".fedex.com")):
            raise CarrierBadResponse(CARRIER, "a label came only as a URL outside fedex.com; not fetched")
        if host == (urlsplit(self.base_url).hostname or "").lower():
            response = await self.authorized_request("GET", url, operation="label document")
        else:
            response = await self.http.request(CARRIER, "GET", url)
        if not response.content:
            raise CarrierBadResponse(CARRIER, "a label document URL answered an empty body")
        return response.content

    async def void_shipment(self, request: VoidRequest) -> None:
        """Cancel a booked shipment (all its packages) with `PUT /ship/v1/shipments/cancel`.

        Raises CarrierRejected when FedEx refuses (its 4xx errors such as
        SHIPMENT.USER.UNAUTHORIZED, or a 200 with `cancelledShipment` false),
        CarrierAuthError, CarrierUnavailable, CarrierBadResponse.
        """
        body = shipping.build_void_request(request, account_number=self.fedex_credentials.account_number)
        response = await self.authorized_request(
            "PUT",
            f"{self.base_url}{shipping.CANCEL_PATH}",
            operation="cancel shipment",
            json=body,
            ok_statuses=(200, *REJECTION_STATUSES),
            idempotent=False,
        )
        payload = decode_json(CARRIER, response)
        if response.status_code in REJECTION_STATUSES:
            raise shipping.rejection(payload, status_code=response.status_code, operation="cancel")
        shipping.parse_void_response(payload)

    # ------------------------------------------------------------------ look-ups

    async def validate_address(self, address: Address) -> AddressValidation:
        """FedEx's verdict on `address` from `POST /address/v1/addresses/resolve` (see `app.carriers.fedex.addresses`).

        Raises CarrierRejected (FedEx's 400 errors, e.g. STANDARDIZED.ADDRESS.NOTFOUND),
        CarrierAuthError, CarrierRateLimited, CarrierUnavailable, CarrierBadResponse.
        """
        response = await self.authorized_request(
            "POST",
            f"{self.base_url}{addresses.ADDRESS_VALIDATION_PATH}",
            operation="address validation",
            json=addresses.build_address_validation_request(address),
            ok_statuses=(200, *QUERY_REJECTION_STATUSES),
        )
        payload = decode_json(CARRIER, response)
        if response.status_code in QUERY_REJECTION_STATUSES:
            raise shipping.rejection(payload, status_code=response.status_code, operation="address validation")
        return addresses.parse_address_validation(payload, address)

    async def find_service_points(self, query: ServicePointQuery) -> list[ServicePoint]:
        """Hold at Location points near the queried address from `POST /location/v1/locations`, nearest first.

        `id` is the `locationId` that `service_point_id` books (see `app.carriers.fedex.servicepoints`).
        FedEx's NORESULT.TO.RETURN gives []. Raises CarrierRejected (FedEx's other 400 errors,
        e.g. COUNTRY.POSTALCODEORZIP.INVALID), CarrierAuthError, CarrierRateLimited,
        CarrierUnavailable, CarrierBadResponse.
        """
        response = await self.authorized_request(
            "POST",
            f"{self.base_url}{servicepoints.LOCATION_SEARCH_PATH}",
            operation="location search",
            json=servicepoints.build_location_search_request(query),
            ok_statuses=(200, *QUERY_REJECTION_STATUSES),
        )
        payload = decode_json(CARRIER, response)
        if response.status_code in QUERY_REJECTION_STATUSES:
            if servicepoints.is_no_result([error.code for error in parse_errors(payload)]):
                return []
            raise shipping.rejection(payload, status_code=response.status_code, operation="location search")
        return servicepoints.parse_location_search(payload, query)

    # ------------------------------------------------------------------ rating

    async def rate(self, request: RateRequest) -> list[RateQuote]:
        """Every FedEx service's price for `request` from `POST /rate/v1/rates/quotes` (see `app.carriers.fedex.rates`).

        Raises CarrierRejected (FedEx's 4xx errors, e.g. an unserved lane), CarrierAuthError,
        CarrierRateLimited, CarrierUnavailable, CarrierBadResponse.
        """
        credentials = self.fedex_credentials
        response = await self.authorized_request(
            "POST",
            f"{self.base_url}{rates.RATE_PATH}",
            operation="rate",
            json=rates.build_rate_request(request, account_number=credentials.account_number, pickup_type=credentials.pickup_type),
            ok_statuses=(200, *QUERY_REJECTION_STATUSES),
        )
        payload = decode_json(CARRIER, response, exact_numbers=True)
        if response.status_code in QUERY_REJECTION_STATUSES:
            raise shipping.rejection(payload, status_code=response.status_code, operation="rate request")
        return rates.parse_rate_response(payload)
