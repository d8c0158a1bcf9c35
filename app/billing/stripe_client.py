"""Stripe's HTTP API through the official SDK, on an httpx-based client (one per process).

Every call here is async (`*_async` methods of `stripe.StripeClient`) and
goes through `stripe.HTTPXClient`, so tests replace Stripe with respx.
Creating calls carry Stripe idempotency keys derived from our ids, so a
retried request never creates a second customer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import stripe

from app.billing.errors import BillingNotConfigured, StripeRequestRejected, StripeUnavailable
from app.core.config import Settings
from app.idempotency.errors import IdempotencyKeyReused

logger = logging.getLogger(__name__)


class StripeGateway:
    """The few Stripe operations billing uses. Raises BillingNotConfigured 503 / StripeUnavailable, StripeRequestRejected 502."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: stripe.StripeClient | None = None
        self._http: stripe.HTTPXClient | None = None

    def client(self) -> stripe.StripeClient:
        """The process's StripeClient (created on first use); 503 `billing-not-configured` without an API key."""
        if self._settings.stripe_api_key is None:
            raise BillingNotConfigured("Billing is not configured on this server (STRIPE_API_KEY).")
        if self._client is None:
            self._http = stripe.HTTPXClient(timeout=self._settings.stripe_timeout_seconds)
            base = {"api": self._settings.stripe_api_base_url} if self._settings.stripe_api_base_url else None
            self._client = stripe.StripeClient(
                self._settings.stripe_api_key.get_secret_value(),
                http_client=self._http,
                base_addresses=base,  # type: ignore[arg-type]
                max_network_retries=self._settings.stripe_max_network_retries,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the underlying httpx client."""
        if self._http is not None:
            await self._http.close_async()
        self._client = self._http = None

    async def create_customer(self, *, tenant_id: uuid.UUID, name: str, slug: str) -> str:
        """Create the tenant's Stripe customer (metadata `tenant_id`); returns its id ("cus_...").

        Idempotency key `courier-hub-customer-<tenant id>`: concurrent or
        retried calls within Stripe's 24 h key window get the same customer.
        """
        customer = await self._call(
            self.client().v1.customers.create_async(
                {"name": name, "metadata": {"tenant_id": str(tenant_id), "tenant_slug": slug}},
                {"idempotency_key": f"courier-hub-customer-{tenant_id}"},
            )
        )
        return customer.id

    async def create_checkout_session(
        self,
        *,
        tenant_id: uuid.UUID,
        customer_id: str,
        plan_code: str,
        price_id: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str | None,
    ) -> Mapping[str, Any]:
        """A Checkout Session in subscription mode for one unit of `price_id`; returns the Session (id, url, ...).

        `client_reference_id` is the tenant id; the subscription it creates
        carries metadata `tenant_id` and `plan_code`.
        """
        params: dict[str, Any] = {
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(tenant_id),
            "line_items": [{"price": price_id, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": {"tenant_id": str(tenant_id), "plan_code": plan_code},
            "subscription_data": {"metadata": {"tenant_id": str(tenant_id), "plan_code": plan_code}},
        }
        options = {"idempotency_key": idempotency_key} if idempotency_key else {}
        return await self._call(self.client().v1.checkout.sessions.create_async(params, options))  # type: ignore[arg-type]

    async def create_portal_session(self, *, customer_id: str, return_url: str) -> Mapping[str, Any]:
        """A Customer Portal session for the customer; returns the Session (id, url, ...)."""
        return await self._call(
            self.client().v1.billing_portal.sessions.create_async({"customer": customer_id, "return_url": return_url})
        )

    async def retrieve_subscription(self, subscription_id: str) -> dict[str, Any]:
        """The subscription as Stripe has it now, as a plain dict."""
        subscription = await self._call(self.client().v1.subscriptions.retrieve_async(subscription_id))
        return subscription.to_dict()

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except stripe.IdempotencyError as exc:
            raise IdempotencyKeyReused("This Idempotency-Key was already used with other parameters.") from exc
        except stripe.InvalidRequestError as exc:
            logger.warning("Stripe rejected a request: %s", exc.user_message or exc)
            raise StripeRequestRejected(f"Stripe rejected the request: {exc.user_message or 'invalid request'}.") from exc
        except stripe.StripeError as exc:
            logger.warning("Stripe call failed: %s", exc)
            raise StripeUnavailable("Stripe could not be reached or failed; try again.") from exc
