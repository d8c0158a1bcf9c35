"""Response models for POS orders."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

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
    created_at: datetime


class OrderDetail(OrderOut):
    """An order with the source's payload exactly as received."""

    raw_payload: Any


class IngestResult(BaseModel):
    """`POST /v1/pos/{source}/ingest` response: `created` (201) or `existing` (200, same order seen before)."""

    result: Literal["created", "existing"]
    order: OrderOut
