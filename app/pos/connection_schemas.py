"""Request/response models of /v1/pos/connections (a tenant's shops on POS/shop platforms)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PosSource = Literal["shopify", "woocommerce", "square", "zettle", "lightspeed", "generic"]
Environment = Literal["production", "sandbox"]



class _Identity(BaseModel):
    """The shop's identity on its platform (each field for its own platform; all optional)."""

    model_config = ConfigDict(extra="forbid")

    shop_domain: str | None = Field(default=None, min_length=1, max_length=255, description="Shopify: `shop.myshopify.com`.")
    site_url: str | None = Field(default=None, min_length=1, max_length=500, description="WooCommerce: the site URL.")
    location_id: str | None = Field(default=None, min_length=1, max_length=100, description="Square location id.")
    merchant_id: str | None = Field(default=None, min_length=1, max_length=100, description="Square merchant id.")
    organization_uuid: str | None = Field(default=None, min_length=1, max_length=64, description="Zettle organization.")
    notification_url: str | None = Field(
        default=None,
        min_length=8,
        max_length=1000,
        pattern=r"^https?://",
        description="Square: the notification URL exactly as subscribed (part of what Square signs); "
        "default: this connection's `webhook_url`.",
    )


class ConnectionCreate(_Identity):
    """`POST /v1/pos/connections`: connect one shop.

    `signing_secret` is the platform's own secret (Shopify app client
    secret, WooCommerce webhook secret, Square signature key, Zettle
    `signingKey`; for `generic`, a Standard Webhooks `whsec_…` secret). It is
    encrypted at rest and never shown again. `access_token` (Square) lets the
    server fetch the orders Square's thin events name.
    """

    source: PosSource
    name: str = Field(min_length=1, max_length=100)
    signing_secret: str | None = Field(default=None, min_length=1, max_length=500)
    access_token: str | None = Field(default=None, min_length=1, max_length=1000)
    environment: Environment = Field(default="production", description="Square: production or sandbox API.")

    @model_validator(mode="after")
    def _secret_for_pushes(self) -> ConnectionCreate:
        if self.source != "lightspeed" and self.signing_secret is None:
            raise ValueError(f"signing_secret is required: {self.source} pushes are verified with it")
        return self


class ConnectionUpdate(_Identity):
    """`PATCH /v1/pos/connections/{id}`: change name, identity, notification URL, access token or environment."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    access_token: str | None = Field(default=None, min_length=1, max_length=1000)
    environment: Environment | None = None


class RotateSecret(BaseModel):
    """`POST /v1/pos/connections/{id}/rotate-secret`: the platform's new secret; the old one is still accepted
    for `overlap_seconds` (default WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS; 0 ends it at once)."""

    model_config = ConfigDict(extra="forbid")

    signing_secret: str = Field(min_length=1, max_length=500)
    overlap_seconds: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)


class ConnectionOut(BaseModel):
    """A POS connection; its secrets are never shown (`signing_secret_set`, `access_token_set` say whether there are)."""

    id: uuid.UUID
    source: PosSource
    name: str
    is_default: bool = Field(description="The implicit connection of API-key ingests (POST /v1/pos/{source}/ingest).")
    shop_domain: str | None
    site_url: str | None
    location_id: str | None
    merchant_id: str | None
    organization_uuid: str | None
    notification_url: str | None
    environment: Environment
    webhook_url: str | None = Field(description="Paste this into the platform's webhook settings (null for the default).")
    signing_secret_set: bool
    previous_secret_expires_at: datetime | None = Field(
        description="During a rotation: until when the previous secret is still accepted."
    )
    access_token_set: bool
    created_at: datetime
    updated_at: datetime


class PushAck(BaseModel):
    """The answer to a verified platform push: `accepted` (stored), `duplicate` (delivery id seen), `ignored`
    (a test message or ping, nothing stored). `result` says what happened to the order."""

    status: Literal["accepted", "duplicate", "ignored"]
    order_id: uuid.UUID | None = None
    result: Literal["created", "updated", "existing"] | None = None
