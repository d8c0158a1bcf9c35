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
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

from standardwebhooks.webhooks import Webhook


class EventLike(Protocol):
    """What an envelope is made of: an `IntegrationEvent`, or a row with the same attributes."""

    id: uuid.UUID
    type: str
    occurred_at: datetime
    tenant_id: uuid.UUID
    data: Any


def envelope(event: EventLike) -> dict[str, Any]:
    """The JSON envelope merchants receive: {id, type, created_at (ISO 8601 UTC), tenant_id, data}."""
    return {
        "id": str(event.id),
        "type": event.type,
        "created_at": event.occurred_at.isoformat(),
        "tenant_id": str(event.tenant_id),
        "data": event.data,
    }


def body_of(event: EventLike) -> bytes:
    """The request body for `event`: its envelope as compact UTF-8 JSON."""
    return json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Signer:
    """Signs request bodies with a fixed list of secrets (newest first); build one per endpoint, reuse it per batch.

    Holds one `standardwebhooks.Webhook` per secret (each decodes its secret
    once). Raises ValueError without a secret.
    """

    def __init__(self, secrets_: Sequence[str]) -> None:
        if not secrets_:
            raise ValueError("no signing secret")
        self._webhooks = [Webhook(secret) for secret in secrets_]

    def headers(self, *, message_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
        """The Standard Webhooks headers for `body` at `timestamp` (timezone-aware), one signature per secret."""
        text = body.decode("utf-8")
        timestamp = timestamp.astimezone(timezone.utc)  # the library replaces tzinfo, so hand it UTC
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": " ".join(webhook.sign(message_id, timestamp, text) for webhook in self._webhooks),
        }


def signed_headers(*, secrets_: Sequence[str], message_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers for `body`, signed with every secret in `secrets_` (newest first).

    `timestamp` must be timezone-aware. Raises ValueError without a secret.
    """
    return Signer(secrets_).headers(message_id=message_id, timestamp=timestamp, body=body)
