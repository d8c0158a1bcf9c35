"""Response models of /v1/inbound (carrier pushes) and /v1/inbound-webhooks (the operator's view of them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

InboundStatus = Literal["processed", "partially_matched", "unmatched"]


class InboundAck(BaseModel):
    """`POST /v1/inbound/{carrier}/{integration_id}` answer: the push was authentic, stored and applied."""

    id: uuid.UUID = Field(description="The stored push (GET /v1/inbound-webhooks/{id}).")
    status: InboundStatus
    matched: int = Field(description="Distinct tracking numbers of the push that matched a shipment.")
    unmatched: int = Field(description="Distinct tracking numbers no shipment matched (kept, see /v1/inbound-webhooks/unmatched).")
    new_events: int = Field(description="Tracking events stored; 0 for a re-sent push.")


class InboundWebhookOut(BaseModel):
    """One received carrier push (without its body; GET /v1/inbound-webhooks/{id} has it)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    carrier: str
    integration_id: uuid.UUID
    status: InboundStatus = Field(
        description="processed: every tracking number matched a shipment (or none was named); "
        "partially_matched: some did; unmatched: none did."
    )
    tracking_numbers: list[str] = Field(description="Every tracking number the push carried, as shipments store them.")
    created_at: datetime = Field(description="When it was received.")


class InboundWebhookDetail(InboundWebhookOut):
    """One received push with its body as JSON and the headers kept (never credentials or signatures)."""

    headers: dict[str, str]
    payload: Any


class UnmatchedUpdateOut(BaseModel):
    """A pushed tracking update whose (carrier, tracking number) matched no shipment of the tenant."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    inbound_webhook_id: uuid.UUID
    carrier: str
    tracking_number: str
    result: dict[str, Any] = Field(
        description="The normalized tracking result (tracking_number, status, events[], estimated_delivery, raw...)."
    )
    resolved_at: datetime | None = Field(description="When a shipment with this number took the update; null while pending.")
    created_at: datetime
