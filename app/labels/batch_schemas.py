"""Request/response models of /v1/label-batches."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.labels.batch_models import LabelBatch, LabelBatchItem
from app.labels.schemas import LabelCreate

MAX_BATCH_ITEMS = 1000
BatchStatus = Literal["queued", "running", "completed"]
ItemStatus = Literal["queued", "booked", "failed"]


class BatchItemCreate(LabelCreate):
    """One booking of a batch: a `POST /v1/labels` body whose `reference` is required and unique in the batch."""

    reference: str = Field(min_length=1, max_length=35, description="The item's key in the batch; printed on the label.")


class LabelBatchCreate(BaseModel):
    """`POST /v1/label-batches`: 1-1,000 bookings, booked by the worker."""

    model_config = ConfigDict(extra="forbid")

    items: list[BatchItemCreate] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)

    @field_validator("items")
    @classmethod
    def _unique_references(cls, items: list[BatchItemCreate]) -> list[BatchItemCreate]:
        seen: set[str] = set()
        for item in items:
            if item.reference in seen:
                raise ValueError(f"reference {item.reference!r} appears twice; each item needs its own")
            seen.add(item.reference)
        return items


class BatchCounts(BaseModel):
    """How many items are in each state."""

    queued: int
    booked: int
    failed: int


class BatchItemOut(BaseModel):
    """One item: `label_id` once booked, `error` (the problem the booking answered) once failed."""

    position: int
    reference: str
    carrier: str
    status: ItemStatus
    attempts: int
    label_id: uuid.UUID | None
    error: dict[str, Any] | None

    @classmethod
    def of(cls, item: LabelBatchItem) -> BatchItemOut:
        """From a label_batch_items row."""
        return cls(
            position=item.position,
            reference=item.reference,
            carrier=item.carrier,
            status=item.status,  # type: ignore[arg-type]
            attempts=item.attempts,
            label_id=item.label_id,
            error=item.error,
        )


class LabelBatchOut(BaseModel):
    """A batch: `status` (`queued`, `running`, `completed`), counts and every item in order."""

    id: uuid.UUID
    status: BatchStatus
    total: int
    counts: BatchCounts
    items: list[BatchItemOut]
    documents_url: str = Field(description="Every booked label in one file: add `?format=pdf` or `?format=zpl`.")
    created_at: dt.datetime
    completed_at: dt.datetime | None

    @classmethod
    def of(cls, batch: LabelBatch, items: list[LabelBatchItem]) -> LabelBatchOut:
        """From a label_batches row and its items (ordered by position)."""
        counts = {"queued": 0, "booked": 0, "failed": 0}
        for item in items:
            counts[item.status] += 1
        return cls(
            id=batch.id,
            status=batch.status,  # type: ignore[arg-type]
            total=batch.total,
            counts=BatchCounts(**counts),
            items=[BatchItemOut.of(item) for item in items],
            documents_url=f"/v1/label-batches/{batch.id}/documents",
            created_at=batch.created_at,
            completed_at=batch.completed_at,
        )
