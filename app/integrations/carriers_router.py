"""/v1/carriers: the registered carrier adapters, what they can do and the credentials they need."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.api.deps import CurrentPrincipal
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.core.problems import problem_responses
from app.couriers import registry
from app.integrations.schemas import CarrierOut

router = PipelineRouter(prefix="/v1/carriers", tags=["carriers"])


class CarrierWithWebhookAuthOut(CarrierOut):
    """One registered carrier, with how its inbound pushes are authenticated."""

    webhook_auth_scheme: Literal["secret-header", "standard-webhooks"] = Field(
        description='"secret-header": the push must carry the integration\'s webhook secret in `webhook_auth_header`; '
        '"standard-webhooks": the push must be signed per the Standard Webhooks spec '
        "(webhook-id, webhook-timestamp, webhook-signature) with the webhook secret."
    )
    webhook_auth_header: str | None = Field(description="Header carrying the webhook secret (secret-header scheme only).")


@router.get(
    "",
    response_model=list[CarrierWithWebhookAuthOut],
    summary="List carriers",
    responses=problem_responses(PIPELINE_PROBLEMS),
)
async def list_carriers(_: CurrentPrincipal) -> list[dict]:
    """Every registered carrier (built-in and plugin): code, name, capabilities, max_batch_size, the
    JSON Schema of the `credentials` an integration with it needs, and how its inbound pushes are
    authenticated (webhook_auth_scheme, webhook_auth_header). Any valid API key may call it."""
    return registry.describe()
