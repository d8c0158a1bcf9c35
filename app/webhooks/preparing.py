"""Preparing a round of claimed deliveries for sending: one tenant transaction reads them all.

`prepare_group` reads the deliveries of one (tenant, claim token) that still
carry the token, with their events, in one statement, and their endpoints in
a second; each endpoint's signing secrets are decrypted and its signer
(`signing.Signer`) built once for the round. The transaction only reads
(no row locks), unless some endpoint is disabled: its deliveries are failed
there ("endpoint disabled; not sent"). Whoever records the attempt checks
the claim token again (app.webhooks.outcomes).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import any_, select, update

from app.core.crypto import CredentialsCipher, CredentialsDecryptError
from app.core.db.base import utcnow
from app.core.db.session import Database
from app.events.models import IntegrationEvent
from app.webhooks import service, signing
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("app.webhooks.delivery")


@dataclass(frozen=True)
class Prepared:
    """What one attempt sends: URL, endpoint, `webhook-id` (the event id), body, secrets (newest first) and signer."""

    url: str
    endpoint_id: uuid.UUID
    message_id: str
    body: bytes
    secrets: list[str]
    error: str | None = None
    """Why the delivery cannot be signed (no request is made then; the attempt fails with this error)."""
    signer: signing.Signer | None = None
    """The endpoint's signer, shared by the round's deliveries to it (built from `secrets` when None)."""


Signing = tuple[list[str], "signing.Signer | None", "str | None"]
"""(secrets, signer, error) of one endpoint: `error` says why its deliveries cannot be signed."""


async def prepare_group(
    db: Database,
    tenant_id: uuid.UUID,
    token: uuid.UUID,
    delivery_ids: list[uuid.UUID],
    *,
    cipher: CredentialsCipher,
    timeout_seconds: float,
) -> dict[uuid.UUID, Prepared]:
    """What to send for each of `delivery_ids` (of `tenant_id`, claimed with `token`), by delivery id.

    Left out (nothing to send): deliveries no longer pending under `token`,
    whose event or endpoint was deleted, whose endpoint is disabled (failed
    here), or whose lease ends within `timeout_seconds` (this worker stalled:
    sending now could overlap another worker's claim; left to the lease).
    """
    event = IntegrationEvent
    stmt = (
        select(
            WebhookDelivery.id.label("delivery_id"), WebhookDelivery.endpoint_id, WebhookDelivery.next_attempt_at,
            event.id, event.type, event.occurred_at, event.tenant_id, event.data,
        )
        .join(event, (event.tenant_id == WebhookDelivery.tenant_id) & (event.id == WebhookDelivery.event_id))
        .where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.id == any_(delivery_ids),
            WebhookDelivery.claim_token == token,
            WebhookDelivery.status == "pending",
        )
    )
    ready: dict[uuid.UUID, Prepared] = {}
    async with db.transaction(tenant_id) as session:
        rows = (await session.execute(stmt)).all()
        if not rows:
            return ready
        endpoint_ids = sorted({row.endpoint_id for row in rows})
        endpoints = {
            e.id: e
            for e in (
                await session.execute(
                    select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == any_(endpoint_ids))
                )
            ).scalars()
        }
        now = utcnow()
        stale_before = now + timedelta(seconds=timeout_seconds)
        signers: dict[uuid.UUID, Signing] = {}
        disabled: list[uuid.UUID] = []
        for row in rows:
            if row.next_attempt_at is not None and row.next_attempt_at < stale_before:
                logger.warning("webhook delivery %s: lease nearly expired before sending; left for a later claim", row.delivery_id)
                continue
            endpoint = endpoints.get(row.endpoint_id)
            if endpoint is None:
                continue  # deleted meanwhile: the cascade removes the delivery too
            if not endpoint.enabled:
                disabled.append(row.delivery_id)
                continue
            if endpoint.id not in signers:
                signers[endpoint.id] = signing_of(endpoint, cipher, now)
            secrets, signer, error = signers[endpoint.id]
            ready[row.delivery_id] = Prepared(
                url=endpoint.url, endpoint_id=endpoint.id, message_id=str(row.id), body=signing.body_of(row),
                secrets=secrets, error=error, signer=signer,
            )
        if disabled:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.id == any_(disabled))
                .values(status="failed", next_attempt_at=None, claim_token=None, updated_at=now,
                        last_error="endpoint disabled; not sent")
            )
    return ready


def signing_of(endpoint: WebhookEndpoint, cipher: CredentialsCipher, now: datetime) -> Signing:
    """(secrets, signer, error) of an endpoint at `now`; `error` (no signer) when its secret cannot be used.

    A key missing from CREDENTIALS_ENCRYPTION_KEYS fails the attempts on the
    normal schedule (visible, bounded) instead of letting every lease bring
    them back unseen.
    """
    try:
        secrets = service.signing_secrets(endpoint, cipher, now)
    except CredentialsDecryptError:
        return [], None, "signing secret cannot be decrypted with CREDENTIALS_ENCRYPTION_KEYS; not sent"
    try:
        return secrets, signing.Signer(secrets), None
    except ValueError:  # binascii.Error included: not a Standard Webhooks secret
        return [], None, "signing secret is not a valid Standard Webhooks secret; not sent"
