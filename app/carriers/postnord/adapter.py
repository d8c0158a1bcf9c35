"""PostNord adapter: the thin I/O layer over Track & Trace v7, Booking v3 and Service Points v5.

Request building and reply parsing live in pure modules, each naming its
carrier document (copies in `carrier-samples/postnord/`):

* `tracking`: Track & Trace API v7 - FindByIdentifier - Public
  (`openapi-track-and-trace-v7-findbyidentifier.swagger.json`);
* `shipping` (+ `customs`, `faults`): Booking APIs v3.5.29.1
  (`openapi-booking-v3.swagger.json`), `POST /v3/edi/labels/pdf|zpl`: the
  booking and its labels in one call;
* `servicepoints`: Service Points V5 5.0.14 (`openapi-servicepoints-v5.swagger.json`),
  nearest by address, and by id for the point a MyPack Collect booking names.

Status and product tables in `units`, reply models in `schemas`.

* Auth: the `apikey` query parameter only, for every API. A key not
  authorised for the product gets HTTP 403 `{"error": {"status_code": 403,
  ..., "message": "Invalid API Key"}}` (sample `error-403-invalid-api-key.json`).
* Hosts: sandbox https://atapi2.postnord.com, production https://api2.postnord.com.
* PostNord cannot: cancel a booking (Booking v3 has no cancel endpoint, so
  `void_shipment` is not offered and the API answers 409 label-not-voidable),
  validate an address, or quote a price in the booking reply.
* No `rate`: PostNord publishes no price API. Its developer portal
  (developer.postnord.com) offers transit times only (the Transit Time
  Information API and the Delivery Options API give delivery dates, no price;
  the Booking v3 spec above has no price member either), and prices follow
  the customer's own agreement. `POST /v1/rates` answers a quote with a price,
  so PostNord is not asked there (`carriers: ["postnord"]` is 422
  carrier-cannot-rate) rather than answered with an invented figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.carriers.base import CarrierAdapter
from app.carriers.errors import CarrierBadResponse, CarrierUnavailable, ShipmentRequestInvalid
from app.carriers.http import GetRequest, decode_json
from app.carriers.locations import ServicePoint, ServicePointQuery
from app.carriers.postnord import servicepoints, shipping
from app.carriers.postnord.tracking import (
    CARRIER,
    CREDENTIAL_PROBE_ID,
    build_track_request,
    invalid_number_result,
    parse_track_reply,
)
from app.carriers.postnord.units import SERVICES
from app.carriers.shipping import BookedShipment, FieldError, Service, ShipmentRequest
from app.carriers.types import TrackingResult

REJECTION_STATUSES = (400, 422)
"""4xx booking answers whose PostNord `errorResponse` we read (CarrierRejected); 401/403 are auth errors, 5xx unavailable."""
LOCATOR_ERROR_STATUSES = (400, 404)
"""Service point answers with a PostNord error body: a refused query (400) or nothing found (404)."""


class PostNordCredentials(BaseModel):
    """A PostNord developer-portal API key (32 characters, the `apikey` query parameter) and the booking agreement.

    `customer_number` (the consignor's `partyId`, partyIdType 160) is needed
    to book; `issuer_code` names the country of the agreement when it is not
    the shipper's country (Z11 DK, Z12 SE, Z13 NO, Z14 FI, ZDL Direct Link);
    `application_id` is the id PostNord assigned to the integration, if any.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    api_key: SecretStr = Field(description="PostNord API key, authorised for Track & Trace (and Booking, Service Points).")
    customer_number: str | None = Field(
        default=None, min_length=1, max_length=17, description="PostNord customer number (needed to book labels)."
    )
    issuer_code: Literal["Z11", "Z12", "Z13", "Z14", "ZDL"] | None = Field(
        default=None, description="Agreement country: Z11 DK, Z12 SE, Z13 NO, Z14 FI, ZDL; default from the shipper's country."
    )
    application_id: int | None = Field(default=None, ge=0, description="Application id PostNord assigned, if any.")


class PostNordAdapter(CarrierAdapter):
    """PostNord: tracking (Track & Trace v7, one id per request), booking with labels (Booking v3) and service points (v5).

    Inbound pushes: PostNord has no public tracking webhook, so pushes use the inherited generic
    format (`app.carriers.generic_push`) signed with Standard Webhooks.
    """

    code: ClassVar[str] = CARRIER
    name: ClassVar[str] = "PostNord"
    credentials_model: ClassVar[type[BaseModel]] = PostNordCredentials
    sandbox_base_url: ClassVar[str] = "https://atapi2.postnord.com"
    production_base_url: ClassVar[str] = "https://api2.postnord.com"
    max_batch_size: ClassVar[int] = 1
    services: ClassVar[tuple[Service, ...]] = SERVICES

    async def _find(self, number: str) -> tuple[int, Any]:
        """GET findByIdentifier for `number`; (HTTP status 200/404, decoded JSON). Errors as in `track`."""
        credentials: PostNordCredentials = self.credentials  # type: ignore[assignment]
        request = build_track_request(self.base_url, number, credentials.api_key.get_secret_value())
        response = await self.http.request(
            CARRIER,
            "GET",
            request.url,
            headers={"Accept": "application/json"},
            params=request.params,
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
            invalid = invalid_number_result(number)
            if invalid is not None:
                results.append(invalid)
                continue
            status_code, payload = await self._find(number)
            results.append(parse_track_reply(status_code, payload, number))
        return results

    async def test_credentials(self) -> None:
        """Look up a well-formed unknown id; raises CarrierAuthError if PostNord rejects the key (401/403)."""
        await self._find(CREDENTIAL_PROBE_ID)

    # ------------------------------------------------------------------ booking

    @property
    def postnord_credentials(self) -> PostNordCredentials:
        """The integration's credentials, typed."""
        return self.credentials  # type: ignore[return-value]

    def validate_shipment(self, request: ShipmentRequest) -> None:
        """The base checks, then PostNord's rules (`shipping.validate_request`); raises ShipmentRequestInvalid."""
        super().validate_shipment(request)
        credentials = self.postnord_credentials
        shipping.validate_request(
            request, customer_number=credentials.customer_number, configured_issuer_code=credentials.issuer_code
        )

    async def _get(self, request: GetRequest, ok_statuses: tuple[int, ...]) -> tuple[int, Any]:
        response = await self.http.request(
            CARRIER, "GET", request.url, headers={"Accept": "application/json"}, params=request.params, ok_statuses=ok_statuses
        )
        return response.status_code, decode_json(CARRIER, response)

    async def _delivery_point(self, request: ShipmentRequest) -> dict[str, Any]:
        """The EDI party of the chosen service point, read from Service Points v5 before anything is booked.

        Raises ShipmentRequestInvalid (`service_point_id`) when PostNord knows
        no such point in the recipient's country; failures of this read are
        raised as errors that say nothing was booked.
        """
        if not request.service_point_id:
            raise ShipmentRequestInvalid(self.code, [FieldError("this service needs a service_point_id", "service_point_id")])
        lookup = servicepoints.build_ids_request(
            self.base_url, request.recipient.country, request.service_point_id, self.postnord_credentials.api_key.get_secret_value()
        )
        try:
            status_code, payload = await self._get(lookup, (200, *LOCATOR_ERROR_STATUSES))
            points = servicepoints.parse_points_reply(status_code, payload)
        except (CarrierUnavailable, CarrierBadResponse) as exc:
            # A read before the booking: whatever happened, PostNord has booked nothing.
            raise CarrierUnavailable(CARRIER, f"service point lookup before booking failed: {exc.message}") from exc
        wanted = request.service_point_id.strip()
        point = next((p for p in points if p.id == wanted), points[0] if len(points) == 1 else None)
        party = servicepoints.delivery_party_of(point) if point is not None else None
        if party is None:
            raise ShipmentRequestInvalid(
                CARRIER,
                [FieldError(f"PostNord knows no service point {wanted!r} in {request.recipient.country}", "service_point_id")],
            )
        return party

    async def create_shipment(self, request: ShipmentRequest) -> BookedShipment:
        """Book `request` with `POST /rest/shipment/v3/edi/labels/{pdf|zpl}` and return its item ids and labels.

        Validation runs first (ShipmentRequestInvalid before any call). A
        MyPack Collect booking first reads its service point (Service Points
        v5 by id) for the EDI delivery party. The booking is sent once
        (`idempotent=False`) with the merchant's idempotency key as `messageId`.
        Raises CarrierRejected (PostNord's faults, 400), CarrierAuthError
        (401/403 "Invalid API Key"), CarrierUnavailable (5xx, transport;
        `outcome_unknown` after a timeout), CarrierBadResponse without a
        status when PostNord answered 200 but the reply lacks ids or labels.
        """
        self.validate_shipment(request)
        credentials = self.postnord_credentials
        point = await self._delivery_point(request) if request.service_point_id else None
        issuer = shipping.issuer_code(request, credentials.issuer_code)
        if issuer is None or credentials.customer_number is None:  # validate_shipment checked both: never reached
            raise ShipmentRequestInvalid(
                self.code, [FieldError("the PostNord integration needs customer_number and an issuer code", None)]
            )
        body = shipping.build_booking_request(
            request,
            customer_number=credentials.customer_number,
            issuer=issuer,
            application_id=credentials.application_id,
            point=point,
        )
        response = await self.http.request(
            CARRIER,
            "POST",
            f"{self.base_url}{shipping.BOOKING_PATHS[request.label_format]}",
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            params=shipping.booking_params(credentials.api_key.get_secret_value(), request.label_format, request.recipient.country),
            json=body,
            ok_statuses=(200, 201, *REJECTION_STATUSES),
            idempotent=False,
        )
        if response.status_code in REJECTION_STATUSES:
            raise shipping.rejection(decode_json(CARRIER, response), status_code=response.status_code)
        try:
            payload = decode_json(CARRIER, response)
        except CarrierBadResponse as exc:
            # PostNord answered 2xx: the outcome is unknown, never a refusal to retry (no status on purpose).
            raise CarrierBadResponse(CARRIER, f"PostNord answered {response.status_code}, but {exc.message}") from exc
        return shipping.parse_booking_response(payload, request)

    # ------------------------------------------------------------------ service points

    async def find_service_points(self, query: ServicePointQuery) -> list[ServicePoint]:
        """The PostNord service points nearest to the address (Service Points v5 nearest/byaddress), nearest first.

        A country the locator does not cover is CarrierRejected without a
        call; no point found gives []. Raises CarrierRejected (PostNord's
        faults), CarrierAuthError (401/403), CarrierRateLimited,
        CarrierUnavailable, CarrierBadResponse.
        """
        servicepoints.check_country(query)
        request = servicepoints.build_nearest_request(self.base_url, query, self.postnord_credentials.api_key.get_secret_value())
        status_code, payload = await self._get(request, (200, *LOCATOR_ERROR_STATUSES))
        return servicepoints.parse_points_reply(status_code, payload, limit=query.limit)
