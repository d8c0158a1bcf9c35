"""Signed requests for outbound webhooks (Standard Webhooks, via `standardwebhooks`).

A request carries the headers `webhook-id` (the integration event id, so
receivers can dedup), `webhook-timestamp` (Unix seconds) and
`webhook-signature` (`v1,<base64 HMAC-SHA256>`; during a secret rotation one
signature per live secret, space-separated). The body is the event envelope
`{"id", "type", "created_at", "tenant_id", "data"}` as compact JSON.
Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from standardwebhooks.webhooks import Webhook

from app.events.models import IntegrationEvent


def envelope(event: IntegrationEvent) -> dict[str, Any]:
    """The JSON envelope merchants receive: {id, type, created_at (ISO 8601 UTC), tenant_id, data}."""
    return {
        "id": str(event.id),
        "type": event.type,
        "created_at": event.occurred_at.isoformat(),
        "tenant_id": str(event.tenant_id),
        "data": event.data,
    }


def body_of(event: IntegrationEvent) -> bytes:
    """The request body for `event`: its envelope as compact UTF-8 JSON."""
    return json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_headers(*, secrets_: Sequence[str], message_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers for `body`, signed with every secret in `secrets_` (newest first).

    `timestamp` must be timezone-aware. Raises ValueError without a secret.
    """
    if not secrets_:
        raise ValueError("no signing secret")
    text = body.decode("utf-8")
    timestamp = timestamp.astimezone(timezone.utc)  # the library replaces tzinfo, so hand it UTC
    signatures = [Webhook(secret).sign(message_id, timestamp, text) for secret in secrets_]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
