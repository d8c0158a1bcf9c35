"""/v1/carriers: the registered carrier adapters, what they can do, the services they book and the credentials they need."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.api.deps import CurrentPrincipal
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.carriers import registry
from app.core.problems import problem_responses

router = PipelineRouter(prefix="/v1/carriers", tags=["carriers"])


class ServiceOut(BaseModel):
    """One bookable service of a carrier: its code is the `service` of `POST /v1/labels`."""

    code: str = Field(description="The carrier's own service/product code, e.g. FEDEX_GROUND, 11, V01PAK.")
    name: str
    domestic: bool = Field(description="Bookable within one country.")
    international: bool = Field(description="Bookable across borders.")
    requires_customs: bool = Field(description="Every booking needs `customs`, whatever the lane.")
    notes: str | None = None


class CarrierOut(BaseModel):
    """One registered carrier (GET /v1/carriers)."""

    code: str
    name: str
    capabilities: list[str] = Field(
        description="Operations this server implements for the carrier: track, test_credentials, parse_webhook, "
        "create_shipment, void_shipment, validate_address, find_service_points. One that is not listed is not offered."
    )
    max_batch_size: int = Field(description="Tracking numbers one carrier request may carry.")
    credentials_schema: dict[str, Any] = Field(description="JSON Schema of `credentials` for POST /v1/integrations.")
    source: str = Field(description='"builtin" or "plugin:<module:attr>".')
    webhook_auth_scheme: Literal["secret-header", "standard-webhooks"] = Field(
        description='"secret-header": the push must carry the integration\'s webhook secret in `webhook_auth_header`; '
        '"standard-webhooks": the push must be signed per the Standard Webhooks spec '
        "(webhook-id, webhook-timestamp, webhook-signature) with the webhook secret."
    )
    webhook_auth_header: str | None = Field(description="Header carrying the webhook secret (secret-header scheme only).")
    services: list[ServiceOut] = Field(description="What `POST /v1/labels` can book with this carrier (empty: no booking).")


@router.get(
    "",
    response_model=list[CarrierOut],
    summary="List carriers",
    responses=problem_responses(PIPELINE_PROBLEMS),
)
async def list_carriers(_: CurrentPrincipal) -> list[dict]:
    """Every registered carrier (built-in and plugin): code, name, capabilities, max_batch_size, the
    JSON Schema of the `credentials` an integration with it needs, how its inbound pushes are
    authenticated (webhook_auth_scheme, webhook_auth_header) and the `services` it books. Any valid
    API key may call it."""
    return registry.describe()
