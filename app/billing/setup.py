"""Wiring billing into the app: the Stripe gateway and the plan cache on `app.state`."""

from __future__ import annotations

from fastapi import FastAPI

from app.billing.cache import PlanCache
from app.billing.stripe_client import StripeGateway
from app.core.config import Settings


def install_billing(app: FastAPI, settings: Settings) -> None:
    """Set `app.state.settings`, `.stripe` (StripeGateway) and `.plan_cache`; the lifespan closes the gateway."""
    app.state.settings = settings
    app.state.stripe = StripeGateway(settings)
    app.state.plan_cache = PlanCache(settings.plan_cache_ttl_seconds)
