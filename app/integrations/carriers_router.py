"""/v1/carriers: the registered carrier adapters, what they can do and the credentials they need."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth.dependencies import CurrentPrincipal
from app.couriers import registry
from app.integrations.schemas import CarrierOut

router = APIRouter(prefix="/v1/carriers", tags=["carriers"])


@router.get("", response_model=list[CarrierOut], summary="List carriers")
async def list_carriers(_: CurrentPrincipal) -> list[dict]:
    """Every registered carrier (built-in and plugin): code, name, capabilities, max_batch_size and the
    JSON Schema of the `credentials` an integration with it needs. Any valid API key may call it."""
    return registry.describe()
