"""PostNord adapter: the thin I/O layer over Track & Trace API v7 (find by identifier, public view).

Request building and reply parsing live in `app.carriers.postnord.tracking`
(carrier document: PostNord "Track & Trace API v7 - FindByIdentifier -
Public" OpenAPI 3.0.1 v1.0.1,
`carrier-samples/postnord/openapi-track-and-trace-v7-findbyidentifier.swagger.json`);
status tables in `units`, reply models in `schemas`.

* Auth: the `apikey` query parameter only. A key not authorised for the
  product gets HTTP 403 `{"error": {"status_code": 403, ...,
  "message": "Invalid API Key"}}` (sample `error-403-invalid-api-key.json`).
* Booking (Booking API v3, `openapi-booking-v3.swagger.json`) comes with a
  later issue as `postnord/shipping.py`; until then create/void are not
  offered (not advertised in `capabilities()`). Booking v3 has no cancel endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.carriers.base import CarrierAdapter
from app.carriers.http import decode_json
from app.carriers.postnord.tracking import (
    CARRIER,
    CREDENTIAL_PROBE_ID,
    build_track_request,
    invalid_number_result,
    parse_track_reply,
)
from app.carriers.postnord.units import SERVICES
from app.carriers.shipping import Service
from app.carriers.types import TrackingResult


class PostNordCredentials(BaseModel):
    """A PostNord developer-portal API key (32 characters), sent as the `apikey` query parameter."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    api_key: SecretStr = Field(description="PostNord API key, authorised for Track & Trace.")


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
