"""Inbound courier webhooks: a carrier's push for one of a tenant's integrations, verified, stored, applied.

`POST /v1/inbound/{carrier}/{integration_id}` (app.shipments.inbound_router)
calls `receive`, which answers within the carrier's timeout without calling
any other service:

1. the tenant: `inbound_integration_tenant(id, carrier)` (SECURITY DEFINER;
   the push carries no API key) names the tenant of an *active* integration
   with that id and carrier; otherwise 404;
2. authenticity, before anything is stored: the carrier adapter's
   `verify_webhook` with the integration's webhook secret (during a rotation
   also the previous one; without one of its own, WEBHOOK_SECRET outside
   production); 401 `webhook-signature-invalid` otherwise;
3. the body: the adapter's `parse_webhook` (UPS Track Alert, Bring Event
   Cast, DHL Unified Push, or our generic format for FedEx, PostNord and
   plugins, app.carriers.generic_push); 400 `webhook-payload-invalid` otherwise;
4. in one tenant transaction: the push as received (`InboundWebhook`: JSON
   body, a safe subset of headers), then per tracking number either the
   tenant's shipment (locked) updated through the shared
   `app.shipments.service.apply_tracking_result` (which stores only events
   it has not seen, so a re-sent push adds nothing, and writes the
   integration events that fan out to webhook endpoints), or an
   `UnmatchedTrackingUpdate` kept for the operator.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.crypto import CredentialsCipher, CredentialsDecryptError
from app.core.db.base import utcnow
from app.core.db.session import Database
from app.core.pagination import PageParams, paginate_query
from app.core.problems import CredentialsEncryptionUnconfigured, PayloadTooDeep
from app.carriers.base import (
    SECRET_HEADER,
    CarrierAdapter,
    decode_push_json,
    lower_headers,
)
from app.carriers.errors import UnknownCarrier, WebhookAuthError, WebhookPayloadError
from app.carriers.registry import get_adapter_class
from app.carriers.types import TrackingResult
from app.integrations import credentials
from app.integrations.errors import UnknownCarrier as UnknownCarrierProblem
from app.integrations.errors import WebhookPayloadInvalid, WebhookSignatureInvalid
from app.integrations.models import Integration
from app.shipments import service as shipments
from app.shipments.errors import (
    InboundIntegrationNotFound,
    InboundWebhookNotFound,
    UnsupportedPushMediaType,
    WebhookSecretUndecryptable,
)
from app.shipments.inbound_models import InboundWebhook, UnmatchedTrackingUpdate
from app.shipments.models import Shipment
from app.shipments.schemas import normalize_tracking_number

logger = logging.getLogger(__name__)

STORED_HEADERS = frozenset({"content-type", "user-agent", "webhook-id", "webhook-timestamp", "x-request-id"})
STORED_HEADER_PREFIXES = ("x-bring-",)
NEVER_STORED_HEADERS = frozenset({"authorization", "cookie", "x-api-key", SECRET_HEADER, "webhook-signature"})
MAX_STORED_HEADER_CHARS = 512
MAX_TRACKING_NUMBER_CHARS = 64
JSON_MEDIA_TYPES = frozenset({"application/json", "text/json", "text/plain"})
"""Content types accepted for a push (plus any `application/*+json`, or none): some carriers label JSON as text."""

PROCESSED, PARTIALLY_MATCHED, UNMATCHED = "processed", "partially_matched", "unmatched"

_TENANT_OF = text("SELECT inbound_integration_tenant(:integration_id, :carrier)")


@dataclass(frozen=True)
class InboundOutcome:
    """What one push did: the stored push's id and status, distinct tracking numbers matched/unmatched, events stored."""

    inbound_id: uuid.UUID
    status: str
    matched: int
    unmatched: int
    new_events: int


# --------------------------------------------------------------------------- receiving


def adapter_for(carrier: str) -> type[CarrierAdapter]:
    """The adapter class of `carrier`; UnknownCarrier problem 404 `unknown-carrier` when none is registered."""
    try:
        return get_adapter_class(carrier)
    except UnknownCarrier:
        raise UnknownCarrierProblem(f"No carrier '{carrier}' receives pushes here.") from None


async def resolve_tenant(*, db: Database, carrier: str, integration_id: uuid.UUID) -> uuid.UUID | None:
    """The tenant of the *active* integration `integration_id` of `carrier`, or None (unknown, inactive, other carrier).

    Read before any tenant is known, through the SECURITY DEFINER function
    `inbound_integration_tenant` (migration 0004), never through an open policy.
    """
    async with db.transaction() as session:
        return (await session.execute(_TENANT_OF, {"integration_id": integration_id, "carrier": carrier})).scalar_one()


def push_secrets(
    *, integration: Integration, cipher: CredentialsCipher | None, settings: Settings, now: datetime | None = None
) -> list[str]:
    """The secrets a push for `integration` may be authenticated with, current first.

    The integration's own (plus the previous one during a rotation overlap);
    for an integration without one, WEBHOOK_SECRET when ENVIRONMENT is not
    production. Raises WebhookSignatureInvalid 401 `webhook-signature-invalid` when there
    is none, 500 `credentials-encryption-unconfigured` / `webhook-secret-undecryptable`
    when the stored secret cannot be read (a server fault: the carrier should retry).
    """
    if integration.webhook_secret_ciphertext:
        if cipher is None:
            raise CredentialsEncryptionUnconfigured(
                "The server cannot read webhook secrets: CREDENTIALS_ENCRYPTION_KEYS is missing or malformed.",
            )
        try:
            return credentials.webhook_secrets(integration=integration, cipher=cipher, now=now)
        except CredentialsDecryptError as exc:
            logger.error("integration %s webhook secret: %s", integration.id, exc)
            raise WebhookSecretUndecryptable(
                "The webhook secret of this integration cannot be decrypted with the server's keys.",
            ) from None
    if settings.environment != "production" and settings.webhook_secret is not None:
        default = settings.webhook_secret.get_secret_value()
        if default:
            return [default]
    raise WebhookSignatureInvalid(
        "This integration has no webhook secret: issue one with POST /v1/integrations/{id}/rotate-webhook-secret.",
    )


def verify(adapter: type[CarrierAdapter], *, headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> None:
    """Accept the push if `adapter.verify_webhook` accepts it with any of `secrets`.

    Raises WebhookSignatureInvalid 401 `webhook-signature-invalid` (detail from the first
    secret's failure: a missing header, a stale timestamp, no matching signature...).
    """
    first: WebhookAuthError | None = None
    for secret in secrets:
        try:
            adapter.verify_webhook(headers=headers, body=body, secret=secret)
            return
        except WebhookAuthError as exc:
            first = first or exc
    message = first.message if first else "no webhook secret"
    raise WebhookSignatureInvalid(f"The push is not authentic: {message}.")


def check_content_type(headers: Mapping[str, str]) -> None:
    """Accept JSON bodies: no Content-Type, application/json, application/*+json, text/json or text/plain.

    Raises UnsupportedPushMediaType 415 `unsupported-media-type` for anything else (forms, multipart, XML...).
    """
    value = lower_headers(headers).get("content-type", "")
    media_type = value.split(";", 1)[0].strip().lower()
    if not media_type or media_type in JSON_MEDIA_TYPES or (media_type.startswith("application/") and media_type.endswith("+json")):
        return
    raise UnsupportedPushMediaType(f"Pushes are JSON; got Content-Type {media_type!r}.")


def parse(adapter: type[CarrierAdapter], *, headers: Mapping[str, str], body: bytes) -> tuple[Any, list[TrackingResult]]:
    """(the body as a JSON value fit for a JSONB column, the adapter's TrackingResults).

    Raises WebhookPayloadInvalid 400 `webhook-payload-invalid` when the body is not the
    carrier's push format, or holds what PostgreSQL cannot store (NUL
    characters, unpaired surrogates, NaN/Infinity); PayloadTooDeep 422
    `payload-too-deep` when it nests deeper than app.core.jsonio.MAX_JSON_DEPTH.
    """
    carrier = adapter.code
    try:
        results = adapter.parse_webhook(headers=headers, body=body)
        document = decode_push_json(carrier, body)
        _ensure_storable(carrier, document)
    except WebhookPayloadError as exc:
        raise WebhookPayloadInvalid(f"The push cannot be read: {exc.message}.") from None
    except PayloadTooDeep:  # 422 payload-too-deep: never stored, since it could not be read back
        raise
    except Exception:  # an odd value the parser tripped over (a date out of range...): bad input, never a 500
        logger.warning("%s push: parser failed", carrier, exc_info=True)
        raise WebhookPayloadInvalid(f"The push cannot be read as a {carrier} push.") from None
    return document, results


def _ensure_storable(carrier: str, document: Any) -> None:
    pending: list[Any] = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise WebhookPayloadError(carrier, "body holds a NUL character (\\u0000)")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise WebhookPayloadError(carrier, "body holds an unpaired UTF-16 surrogate escape") from None
        elif isinstance(value, float) and not math.isfinite(value):
            raise WebhookPayloadError(carrier, "body holds NaN or Infinity, which JSON does not allow")


def safe_headers(headers: Mapping[str, str], *, auth_header: str | None) -> dict[str, str]:
    """The headers worth keeping with a push (content type, user agent, Standard Webhooks id/timestamp,
    `x-bring-*`), each cut to 512 characters; never a credential or the carrier's auth header."""
    never = NEVER_STORED_HEADERS | ({auth_header.lower()} if auth_header else set())
    kept = {}
    for name, value in lower_headers(headers).items():
        if name in never or not (name in STORED_HEADERS or name.startswith(STORED_HEADER_PREFIXES)):
            continue
        kept[name] = value.replace("\x00", "")[:MAX_STORED_HEADER_CHARS]
    return kept


async def receive(
    *,
    db: Database,
    settings: Settings,
    cipher: CredentialsCipher | None,
    carrier: str,
    integration_id: uuid.UUID,
    headers: Mapping[str, str],
    body: bytes,
) -> InboundOutcome:
    """Verify, store and apply one push for integration `integration_id` of `carrier` (steps in the module docstring).

    `headers` is any mapping, `body` the raw request bytes; `cipher` is None
    when CREDENTIALS_ENCRYPTION_KEYS is not configured. Raises Problems:
    404 `unknown-carrier` / `not-found` (no active integration with this id
    and carrier), 401 `webhook-signature-invalid`, 415 `unsupported-media-type`,
    400 `webhook-payload-invalid` (nothing is stored in any of these cases),
    500 when the stored secret cannot be read.
    """
    adapter = adapter_for(carrier)
    tenant_id = await resolve_tenant(db=db, carrier=carrier, integration_id=integration_id)
    if tenant_id is None:
        raise _no_such_integration(carrier)
    async with db.transaction(tenant_id) as session:
        integration = (
            await session.execute(
                select(Integration).where(Integration.tenant_id == tenant_id, Integration.id == integration_id)
            )
        ).scalar_one_or_none()
        if integration is None or integration.carrier != carrier or not integration.is_active:
            raise _no_such_integration(carrier)  # deactivated or deleted since the lookup
        verify(adapter, headers=headers, body=body, secrets=push_secrets(integration=integration, cipher=cipher, settings=settings))
        check_content_type(headers)
        document, results = parse(adapter, headers=headers, body=body)
        outcome = await store(
            session=session,
            integration=integration,
            headers=safe_headers(headers, auth_header=adapter.webhook_auth_header),
            payload=document,
            results=results,
            schedule=shipments.TrackingSchedule.from_settings(settings),
        )
    logger.info(
        "%s push %s for integration %s: %s, %d matched, %d unmatched, %d new events",
        carrier, outcome.inbound_id, integration_id, outcome.status, outcome.matched, outcome.unmatched, outcome.new_events,
    )
    return outcome


def _no_such_integration(carrier: str) -> InboundIntegrationNotFound:
    return InboundIntegrationNotFound(f"No active {carrier} integration with this id.")


# --------------------------------------------------------------------------- storing and applying


def tracking_number_of(result: TrackingResult) -> str:
    """The result's number as shipments store it (normalize_tracking_number); a number that is not valid
    there is kept compacted and upper-cased, cut to 64 characters (it can only stay unmatched)."""
    try:
        return normalize_tracking_number(result.tracking_number)
    except ValueError:
        return "".join(result.tracking_number.split()).upper()[:MAX_TRACKING_NUMBER_CHARS]


async def store(
    *,
    session: AsyncSession,
    integration: Integration,
    headers: dict[str, str],
    payload: Any,
    results: list[TrackingResult],
    schedule: shipments.TrackingSchedule = shipments.DEFAULT_SCHEDULE,
) -> InboundOutcome:
    """Store one verified, parsed push and apply its results, in the caller's tenant transaction.

    Per distinct tracking number (in sorted order, so concurrent pushes lock
    shipments in one order): the tenant's shipment of (carrier, number) is
    locked and each result applied with `shipments.apply_tracking_result`
    (events deduplicated by carrier event identity there); without a
    shipment, each result is kept as an `UnmatchedTrackingUpdate` unless an
    unresolved identical one exists. Status: processed (all matched, or the
    push named no number), partially_matched, unmatched.
    """
    numbers = [tracking_number_of(result) for result in results]
    inbound = InboundWebhook(
        tenant_id=integration.tenant_id,
        carrier=integration.carrier,
        integration_id=integration.id,
        headers=headers,
        payload=payload,
        status=PROCESSED,
        tracking_numbers=list(dict.fromkeys(numbers)),
    )
    session.add(inbound)
    await session.flush()

    by_number: dict[str, list[TrackingResult]] = {}
    for number, result in zip(numbers, results, strict=True):
        by_number.setdefault(number, []).append(result)
    matched = unmatched = new_events = 0
    for number in sorted(by_number):
        shipment = await _locked_shipment(
            session=session, tenant_id=integration.tenant_id, carrier=integration.carrier, tracking_number=number
        )
        if shipment is None:
            unmatched += 1
            for result in by_number[number]:
                await _keep_unmatched(session=session, inbound=inbound, tracking_number=number, result=result)
            continue
        matched += 1
        for result in by_number[number]:
            outcome = await shipments.apply_tracking_result(session=session, shipment=shipment, result=result, schedule=schedule)
            new_events += outcome.new_events

    inbound.status = PROCESSED if not unmatched else UNMATCHED if not matched else PARTIALLY_MATCHED
    await session.flush()
    return InboundOutcome(inbound_id=inbound.id, status=inbound.status, matched=matched, unmatched=unmatched, new_events=new_events)


async def _locked_shipment(
    *, session: AsyncSession, tenant_id: uuid.UUID, carrier: str, tracking_number: str
) -> Shipment | None:
    shipment_id = (
        await session.execute(
            select(Shipment.id).where(
                Shipment.tenant_id == tenant_id, Shipment.carrier == carrier, Shipment.tracking_number == tracking_number
            )
        )
    ).scalar_one_or_none()
    if shipment_id is None:
        return None
    return await shipments.get(session=session, tenant_id=tenant_id, shipment_id=shipment_id, for_update=True)


def _dedup_key(result: TrackingResult) -> tuple[str, frozenset[str]]:
    return result.status.value, frozenset(shipments.event_identity(e) for e in result.events)


async def _keep_unmatched(
    *, session: AsyncSession, inbound: InboundWebhook, tracking_number: str, result: TrackingResult
) -> bool:
    """Store `result` for an unknown number unless an unresolved update with the same status and events exists."""
    # serializes identical concurrent pushes, so the check below cannot race
    lock_key = f"unmatched:{inbound.tenant_id}:{inbound.carrier}:{tracking_number}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(lock_key, 0))))
    existing = (
        await session.execute(
            select(UnmatchedTrackingUpdate.result).where(
                UnmatchedTrackingUpdate.tenant_id == inbound.tenant_id,
                UnmatchedTrackingUpdate.carrier == inbound.carrier,
                UnmatchedTrackingUpdate.tracking_number == tracking_number,
                UnmatchedTrackingUpdate.resolved_at.is_(None),
            )
        )
    ).scalars()
    key = _dedup_key(result)
    if any(_dedup_key(TrackingResult.model_validate(stored)) == key for stored in existing):
        return False
    session.add(
        UnmatchedTrackingUpdate(
            tenant_id=inbound.tenant_id,
            inbound_webhook_id=inbound.id,
            carrier=inbound.carrier,
            tracking_number=tracking_number,
            result=result.model_dump(mode="json"),
        )
    )
    await session.flush()
    return True


async def apply_unmatched(
    *, session: AsyncSession, shipment: Shipment, schedule: shipments.TrackingSchedule = shipments.DEFAULT_SCHEDULE
) -> int:
    """Apply the unresolved pushed updates for a (newly registered, locked) shipment's number, oldest first,
    and mark them resolved; returns how many were applied.

    For `shipments.service.register` to call after inserting a shipment, so
    pushes that arrived before the shipment existed are not lost.
    """
    rows = list(
        (
            await session.execute(
                select(UnmatchedTrackingUpdate)
                .where(
                    UnmatchedTrackingUpdate.tenant_id == shipment.tenant_id,
                    UnmatchedTrackingUpdate.carrier == shipment.carrier,
                    UnmatchedTrackingUpdate.tracking_number == shipment.tracking_number,
                    UnmatchedTrackingUpdate.resolved_at.is_(None),
                )
                .order_by(UnmatchedTrackingUpdate.id)
                .with_for_update()
            )
        ).scalars()
    )
    now = utcnow()
    for row in rows:
        await shipments.apply_tracking_result(
            session=session, shipment=shipment, result=TrackingResult.model_validate(row.result), schedule=schedule
        )
        row.resolved_at = now
    await session.flush()
    return len(rows)


# --------------------------------------------------------------------------- operator reads


async def list_page(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    params: PageParams,
    status: str | None = None,
    integration_id: uuid.UUID | None = None,
    carrier: str | None = None,
) -> list[InboundWebhook]:
    """The pushes `tenant_id` received, newest first (`limit + 1` rows), optionally of one status / integration / carrier."""
    stmt = select(InboundWebhook).where(InboundWebhook.tenant_id == tenant_id)
    if status:
        stmt = stmt.where(InboundWebhook.status == status)
    if integration_id is not None:
        stmt = stmt.where(InboundWebhook.integration_id == integration_id)
    if carrier:
        stmt = stmt.where(InboundWebhook.carrier == carrier)
    return list((await session.execute(paginate_query(stmt, InboundWebhook.id, params))).scalars())


async def get_or_404(*, session: AsyncSession, tenant_id: uuid.UUID, inbound_id: uuid.UUID) -> InboundWebhook:
    """The received push `inbound_id` of `tenant_id`; InboundWebhookNotFound 404 otherwise."""
    stmt = select(InboundWebhook).where(InboundWebhook.tenant_id == tenant_id, InboundWebhook.id == inbound_id)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise InboundWebhookNotFound("No such inbound webhook.")
    return row


async def list_unmatched_page(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    params: PageParams,
    carrier: str | None = None,
    tracking_number: str | None = None,
    resolved: bool | None = False,
) -> list[UnmatchedTrackingUpdate]:
    """Pushed updates of `tenant_id` no shipment matched, newest first (`limit + 1` rows): unresolved ones by
    default (`resolved=None`: all).

    `tracking_number` is compared compacted and upper-cased, as numbers are stored.
    """
    stmt = select(UnmatchedTrackingUpdate).where(UnmatchedTrackingUpdate.tenant_id == tenant_id)
    if carrier:
        stmt = stmt.where(UnmatchedTrackingUpdate.carrier == carrier)
    if tracking_number:
        stmt = stmt.where(UnmatchedTrackingUpdate.tracking_number == "".join(tracking_number.split()).upper())
    if resolved is not None:
        column = UnmatchedTrackingUpdate.resolved_at
        stmt = stmt.where(column.is_not(None) if resolved else column.is_(None))
    return list((await session.execute(paginate_query(stmt, UnmatchedTrackingUpdate.id, params))).scalars())
