"""DHL adapter: the I/O for one carrier code `dhl` over three DHL APIs.

* Tracking: Shipment Tracking – Unified 1.4.1 (`tracking.py`), header
  `DHL-API-Key` = `credentials.api_key`; one number per request
  (`max_batch_size = 1`). Inbound: Unified Push notifications, authenticated
  by the `x-courier-hub-secret` header merchants put in the subscription
  (`hook.authentication`, sample `push-subscription-request-account.json`).
* Booking (`shipping.py`): the service code picks the API — Parcel DE
  Shipping v2 (`parcel_de.py`, `credentials.parcel_de`) or the MyDHL API for
  DHL Express (`express.py`, `credentials.express`); see `credentials.py`.
* Void: Parcel DE shipments are cancelled (`DELETE /orders`); DHL Express has
  no cancel in the MyDHL API, so voiding an Express booking raises
  CapabilityNotSupported (the API answers 409 label-not-voidable).
* Rates: the MyDHL API `POST /rates` (`rates.py`) with the `express` block
  (HTTP Basic, the Express account number): every DHL Express product of the
  lane, priced for the account. Parcel DE has no rating API; an integration
  without the `express` block cannot rate (CapabilityNotSupported).
* Service points: Location Finder – Unified `GET /find-by-address`
  (`servicepoints.py`), header `DHL-API-Key`; the ids are what Parcel DE
  booking takes as `service_point_id` ("Packstation 145", "Postfiliale 520").

Base URLs: the adapter's `base_url` is the tracking host (sandbox
https://api-test.dhl.com, production https://api-eu.dhl.com). The booking
hosts follow the environment (`parcel_de.SANDBOX_BASE_URL` /
`PRODUCTION_BASE_URL`, `express.SANDBOX_BASE_URL` / `PRODUCTION_BASE_URL`);
with a `DHL_BASE_URL` override (a local stand-in) they are
`{override}/parcel/de/shipping/v2` and `{override}/mydhlapi`. Location Finder
has one environment (`servicepoints.BASE_URL`), `{override}/location-finder/v1`
under an override.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import httpx

from app.carriers.base import SECRET_HEADER, CarrierAdapter, decode_push_json, track_concurrently
from app.carriers.dhl import express, parcel_de, rates, servicepoints, shipping
from app.carriers.dhl.credentials import DhlCredentials
from app.carriers.dhl.tracking import (
    TEST_TRACKING_NUMBER,
    TRACK_PATH,
    parse_push_notification,
    parse_tracking_response,
    tracking_request,
)
from app.carriers.dhl.units import EXPRESS, PARCEL_DE, SERVICES, api_for
from app.carriers.errors import CapabilityNotSupported, CarrierBadResponse, CarrierError
from app.carriers.http import decode_json
from app.carriers.locations import ServicePoint, ServicePointQuery
from app.carriers.rating import RateQuote, RateRequest
from app.carriers.shipping import BookedShipment, ShipmentRequest, VoidRequest
from app.carriers.types import TrackingResult

logger = logging.getLogger(__name__)

CONCURRENT_REQUESTS = 4
"""Parallel single-number requests when `track` is given several numbers."""
PARCEL_DE_PATH = "/parcel/de/shipping/v2"
EXPRESS_PATH = "/mydhlapi"


class DhlAdapter(CarrierAdapter):
    """DHL: Unified tracking and push; Parcel DE and Express (MyDHL API) booking; Parcel DE void; Location Finder;
    Express (MyDHL API) rates."""

    code = "dhl"
    name = "DHL"
    credentials_model = DhlCredentials
    sandbox_base_url = "https://api-test.dhl.com"
    production_base_url = "https://api-eu.dhl.com"
    max_batch_size = 1
    services = SERVICES
    webhook_auth_header = SECRET_HEADER
    """The `hook.authentication.header` merchants put in their DHL Push subscription (token = webhook secret)."""

    credentials: DhlCredentials

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[TrackingResult]:
        """Parse one DHL Unified Push notification (`parse_push_notification`); one result per shipment.

        Raises WebhookPayloadError when the body is not JSON or not `{"shipments": [Shipment with id, ...]}`.
        """
        return parse_push_notification(decode_push_json(cls.code, body))

    def _overridden(self) -> bool:
        return self.base_url not in (self.sandbox_base_url, self.production_base_url)

    @property
    def parcel_de_url(self) -> str:
        """The Parcel DE Shipping v2 base URL for this integration's environment."""
        if self._overridden():
            return self.base_url + PARCEL_DE_PATH
        return parcel_de.SANDBOX_BASE_URL if self.environment == "sandbox" else parcel_de.PRODUCTION_BASE_URL

    @property
    def express_url(self) -> str:
        """The MyDHL API base URL for this integration's environment."""
        if self._overridden():
            return self.base_url + EXPRESS_PATH
        return express.SANDBOX_BASE_URL if self.environment == "sandbox" else express.PRODUCTION_BASE_URL

    @property
    def location_finder_url(self) -> str:
        """The Location Finder – Unified base URL (one environment; a `DHL_BASE_URL` override wins)."""
        return self.base_url + servicepoints.OVERRIDE_PATH if self._overridden() else servicepoints.BASE_URL

    def _headers(self) -> dict[str, str]:
        return {"DHL-API-Key": self.credentials.api_key.get_secret_value(), "Accept": "application/json"}

    async def _track_one(self, tracking_number: str) -> TrackingResult:
        response = await self.http.request(
            self.code,
            "GET",
            self.base_url + TRACK_PATH,
            headers=self._headers(),
            params=tracking_request(tracking_number),
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
            params=tracking_request(TEST_TRACKING_NUMBER),
            ok_statuses=(200, 404),
        )

    async def find_service_points(self, query: ServicePointQuery) -> list[ServicePoint]:
        """DHL Packstations, post offices and service points near `query`, nearest first (`GET /find-by-address`).

        Ids are Parcel DE `service_point_id`s for German points (see
        `servicepoints`). "No result found" (404) gives []. Raises
        CarrierRejected (400: DHL's title and detail), CarrierAuthError
        (401/403: the key lacks Location Finder access), CarrierRateLimited
        (429), CarrierUnavailable, CarrierBadResponse.
        """
        response = await self.http.request(
            self.code,
            "GET",
            self.location_finder_url + servicepoints.FIND_BY_ADDRESS_PATH,
            headers=self._headers(),
            params=servicepoints.find_by_address_params(query),
            ok_statuses=(200, 400, 404),
        )
        if response.status_code == 404:
            return []
        payload = decode_json(self.code, response)
        if response.status_code == 400:
            raise servicepoints.rejection(payload, response.status_code)
        return servicepoints.parse_find_by_address(payload)[: query.limit]

    def _parcel_de_auth(self) -> tuple[dict[str, str], httpx.BasicAuth]:
        block = self.credentials.parcel_de_block()
        headers = {"dhl-api-key": self.credentials.api_key.get_secret_value(), "Accept": "application/json"}
        return headers, httpx.BasicAuth(block.username, block.password.get_secret_value())

    async def create_shipment(self, request: ShipmentRequest) -> BookedShipment:
        """Book `request` with the DHL API its service belongs to; one tracking number and label per parcel.

        Parcel DE: `POST /orders` (one shipment per parcel); if DHL books
        only some of them (207), the booked ones are cancelled again before
        the refusal is raised. Express: `POST /shipments` with a
        Message-Reference derived from the idempotency key. Raises
        ShipmentRequestInvalid (before any call), CarrierRejected (the
        carrier's errors), CarrierAuthError, CarrierUnavailable (5xx, incl.
        MyDHL's 500 process error; `outcome_unknown` after a timeout),
        CarrierBadResponse.
        """
        shipping.validate_request(request, self.credentials)
        now = datetime.now(timezone.utc)
        body = shipping.build_shipment_request(request, self.credentials, now=now)
        if api_for(request.service) == PARCEL_DE:
            headers, auth = self._parcel_de_auth()
            response = await self.http.request(
                self.code,
                "POST",
                self.parcel_de_url + parcel_de.ORDERS_PATH,
                headers=headers,
                params=parcel_de.order_params(request.label_format),
                json=body,
                auth=auth,
                ok_statuses=(200, 207, 400),
                idempotent=False,
            )
            payload = decode_json(self.code, response)
            if response.status_code == 400 or parcel_de.has_failures(payload):
                booked = parcel_de.created_shipment_numbers(payload)
                if booked:
                    await self._cancel_partial(booked)
                raise parcel_de.rejection(payload, response.status_code)
            return parcel_de.parse_order_response(payload, request)

        block = self.credentials.express_block()
        response = await self.http.request(
            self.code,
            "POST",
            self.express_url + express.SHIPMENTS_PATH,
            headers=express.request_headers(request.idempotency_key, now=now),
            json=body,
            auth=httpx.BasicAuth(block.username, block.password.get_secret_value()),
            ok_statuses=(200, 201, 400, 422),
            idempotent=False,
        )
        payload = decode_json(self.code, response)
        if response.status_code >= 400:
            raise express.rejection(payload, response.status_code)
        return express.parse_shipment_response(payload, request)

    async def _cancel_partial(self, numbers: list[str]) -> None:
        """Cancel the shipments of a partly refused Parcel DE order.

        Raises CarrierBadResponse without a status (the outcome is unknown:
        those parcels stay booked at DHL) when the cancel fails, so the
        booking is never treated as refused and sent again.
        """
        try:
            await self._delete_orders(parcel_de.void_params(numbers, self.credentials.parcel_de_block().profile))
        except CarrierError as exc:
            logger.error("dhl: could not cancel the booked part %s of a refused Parcel DE order: %s", numbers, exc)
            raise CarrierBadResponse(
                self.code, f"DHL booked {', '.join(numbers)} of a partly refused order and they could not be cancelled"
            ) from exc

    async def _delete_orders(self, params: list[tuple[str, str]]) -> None:
        headers, auth = self._parcel_de_auth()
        response = await self.http.request(
            self.code,
            "DELETE",
            self.parcel_de_url + parcel_de.ORDERS_PATH,
            headers=headers,
            params=params,
            auth=auth,
            ok_statuses=(200, 207, 400),
            idempotent=False,
        )
        parcel_de.parse_void_response(decode_json(self.code, response), response.status_code)

    async def void_shipment(self, request: VoidRequest) -> None:
        """Cancel a Parcel DE booking (every shipment number of it, one `DELETE /orders`).

        Raises CapabilityNotSupported for a DHL Express booking (MyDHL has no
        cancel) or an unknown service, ShipmentRequestInvalid without the
        `parcel_de` block, CarrierRejected when DHL refuses (already closed
        out / unknown number: its message), and the transport errors of `track`.
        """
        api = shipping.voidable_api(request)
        if api == EXPRESS:
            raise CapabilityNotSupported(self.code, "DHL Express (MyDHL API) shipments cannot be cancelled")
        if api is None:
            raise CapabilityNotSupported(self.code, f"cannot void a shipment of unknown DHL service {request.service!r}")
        await self._delete_orders(shipping.void_request(request, self.credentials))

    async def rate(self, request: RateRequest) -> list[RateQuote]:
        """Every DHL Express product's price for `request` from the MyDHL API `POST /rates` (see `app.carriers.dhl.rates`).

        Needs the integration's `express` block (CapabilityNotSupported without it: Parcel DE has no rating
        API). Raises CarrierRejected (400/422: DHL's detail, e.g. an invalid account number), CarrierAuthError,
        CarrierRateLimited, CarrierUnavailable (5xx, incl. MyDHL's 500 process error), CarrierBadResponse.
        """
        block = self.credentials.express
        if block is None:
            raise CapabilityNotSupported(self.code, "DHL rates need the integration's 'express' (MyDHL API) credentials block")
        now = datetime.now(timezone.utc)
        response = await self.http.request(
            self.code,
            "POST",
            self.express_url + rates.RATES_PATH,
            operation="rate",
            headers=express.request_headers(None, now=now),
            json=rates.build_rate_request(request, block, now=now),
            auth=httpx.BasicAuth(block.username, block.password.get_secret_value()),
            ok_statuses=(200, *rates.REJECTION_STATUSES),
        )
        payload = decode_json(self.code, response, exact_numbers=True)
        if response.status_code in rates.REJECTION_STATUSES:
            raise rates.rejection(payload, response.status_code)
        return rates.parse_rate_response(payload)
