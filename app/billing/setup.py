"""Wiring billing into the app: the Stripe gateway on `app.state`."""

from __future__ import annotations

from fastapi import FastAPI

from app.billing.stripe_client import StripeGateway
from app.core.config import Settings


def install_billing(app: FastAPI, settings: Settings) -> None:
    """Set `app.state.stripe` (StripeGateway); the lifespan closes it."""
    app.state.stripe = StripeGateway(settings)
