"""Bring (Posten Bring, Mybring) adapter: the thin I/O layer for tracking and Event Cast pushes.

Request building and reply parsing live in `app.carriers.bring.tracking`
(Tracking API v2 RAML `carrier-samples/bring/tracking-api-v2.raml`, Event
Cast callback `event-cast-webhook-in-transit.json`); status tables in
`units`, reply models in `schemas`, description text in `descriptions`.

* Auth: the Mybring headers `X-Mybring-API-Uid`, `X-Mybring-API-Key` and
  (optional) `X-Bring-Client-URL`.
* Event Cast: Bring documents no signature for callbacks but sends any
  custom headers the subscriber configures: we require the webhook secret in
  `x-courier-hub-secret` (`BringAdapter.webhook_auth_header`).
* Credential check: Booking API customers endpoint
  `GET {base}/booking/api/customers` (`booking-api.raml`; lists the Mybring
  user's customer numbers; needs valid Mybring headers).
* Booking (`POST /booking/api/booking`, `booking-api.raml`) comes with a
  later issue as `bring/shipping.py`; until then create/void are not offered.
  Bring's Booking API has no cancel endpoint.

Bring has no separate tracking sandbox: both environments use
https://api.bring.com (the static numbers TESTPACKAGEDELIVERED,
TESTPACKAGEATPICKUPPOINT, ... return canned data in production).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.carriers.base import SECRET_HEADER, CarrierAdapter, decode_push_json
from app.carriers.bring.tracking import CARRIER, build_track_request, parse_event_cast, parse_track_response
from app.carriers.bring.units import SERVICES
from app.carriers.errors import CarrierBadResponse, WebhookPayloadError
from app.carriers.http import decode_json
from app.carriers.shipping import Service
from app.carriers.types import TrackingResult

CUSTOMERS_PATH = "/booking/api/customers"


class BringCredentials(BaseModel):
    """A Mybring API user: login id, API key and an optional client URL."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    api_uid: str = Field(min_length=1, description="Mybring login id (the user's e-mail address).")
    api_key: SecretStr = Field(description="The Mybring user's API key.")
    client_url: str | None = Field(
        default=None, description="Sent as X-Bring-Client-URL: a URL identifying the integrating site."
    )


class BringAdapter(CarrierAdapter):
    """Bring tracking over the Mybring Tracking API v2 (one number per request); Event Cast pushes inbound."""

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
