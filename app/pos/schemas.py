"""Response models for POS orders."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.pos.canonical import Address, Customer, LineItem


class OrderOut(BaseModel):
    """A stored canonical order; money fields are integer minor units of `currency`."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    source: str
    external_id: str
    order_number: str | None
    placed_at: datetime | None
    currency: str
    customer: Customer | None
    shipping_address: Address | None
    line_items: list[LineItem]
    subtotal: int | None
    shipping_total: int | None
    tax_total: int | None
    discount_total: int | None
    total: int
    financial_status: str | None
    test: bool
    connection_id: uuid.UUID = Field(description="The POS connection it came through (GET /v1/pos/connections).")
    status: str | None = Field(description="The platform's order status.")
    ready_to_ship: bool
    cancelled: bool = Field(default=False, description="The platform cancelled it (`cancelled_at` is set).")
    cancelled_at: datetime | None = Field(description="When this server learnt the platform cancelled it.")
    tags: list[str]
    total_weight_grams: int | None = Field(description="Line grams x quantity, when every line has a weight.")
    pickup_point_id: str | None
    source_updated_at: datetime | None = Field(description="The platform's last change of the order (newer updates apply).")
    source_version: int | None = Field(description="The platform's order version (Square).")
    revision_count: int = Field(description="Stored revisions (1 + updates that were newer).")
    created_at: datetime
    updated_at: datetime


    @model_validator(mode="after")
    def _cancelled_flag(self) -> OrderOut:
        self.cancelled = self.cancelled_at is not None
        return self


class RevisionOut(BaseModel):
    """One stored state of an order: `changed` names the fields that differ from the revision before."""

    model_config = ConfigDict(from_attributes=True)

    revision: int
    source_updated_at: datetime | None
    source_version: int | None
    changed: list[str]
    created_at: datetime


class OrderDetail(OrderOut):
    """An order with the source's payload exactly as received (of its current revision) and that revision."""

    raw_payload: Any
    current_revision: RevisionOut | None = None


class IngestResult(BaseModel):
    """`POST /v1/pos/{source}/ingest` response: `created` (201), `updated` (200, a newer state of a known order)
    or `existing` (200, the same or an older state: nothing changed)."""

    result: Literal["created", "updated", "existing"]
    order: OrderOut
