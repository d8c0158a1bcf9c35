"""Response model of integration events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class EventOut(BaseModel):
    """One integration event: `type` (e.g. "pos.order.ingested"), its subject and JSON `data`."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    type: str
    subject_type: str
    subject_id: uuid.UUID
    data: dict[str, Any]
    occurred_at: datetime
