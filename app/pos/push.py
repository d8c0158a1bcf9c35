"""Platform pushes: `POST /v1/pos/webhooks/{connection_id}`, verified, deduplicated by delivery id, ingested.

No API key (Shopify, WooCommerce, Square and Zettle cannot send one):

1. the tenant of the live connection, through the SECURITY DEFINER function
   `pos_connection_tenant` (migration 0011); none: 404;
2. the platform's own signature with the connection's signing secret (during a
   rotation also the previous one), app.pos.verify; 401 otherwise. Nothing is
   stored before this succeeds;
3. the platform's delivery id (X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID,
   Square `event_id`, Zettle `messageId`, Standard Webhooks `webhook-id`): a
   delivery already taken answers 200 `duplicate`;
4. Square events carry only ids: the order is fetched with RetrieveOrder
   (`GET /v2/orders/{id}`, the connection's access token), outside any
   transaction; a failure answers 502 so Square retries;
5. one transaction: the delivery row and the order (created, or updated when
   newer: app.pos.service.ingest), with its integration events.

Test messages and pings (Zettle `TestMessage`, WooCommerce's form-encoded
`webhook_id=` ping) and topics that are not orders are answered 200
`ignored` and store nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from app.carriers.errors import CarrierError
from app.carriers.http import CarrierHttp, decode_json
from app.core import jsonio
from app.core.config import Settings
from app.core.crypto import CredentialsCipher, CredentialsDecryptError
from app.core.db.base import new_id
from app.core.db.session import Database
from app.core.problems import CredentialsEncryptionUnconfigured, InternalError, PayloadTooDeep
from app.pos import connections, service
from app.pos.canonical import PayloadError
from app.pos.errors import (
    ConnectionNotFound,
    PlatformUnavailable,
    PushNotSupported,
    PushPayloadInvalid,
    PushSignatureInvalid,
)
from app.pos.models import PosConnection, PosPushDelivery
from app.pos.sources import get_mapper
from app.pos.sources.square import event_order_id
from app.pos.verify import PUSH_SOURCES, SignatureInvalid, verify

logger = logging.getLogger(__name__)

_TENANT_OF = text("SELECT pos_connection_tenant(:connection_id)")
SQUARE_HOSTS = {"production": "https://connect.squareup.com", "sandbox": "https://connect.squareupsandbox.com"}
SQUARE_VERSION = "2024-10-17"
"""The Square-Version header of RetrieveOrder calls."""
SQUARE_ORDER_EVENTS = frozenset(
    {"order.created", "order.updated", "order.fulfillment.updated", "payment.created", "payment.updated"}
)
ZETTLE_ORDER_EVENTS = frozenset({"PurchaseCreated"})


@dataclass(frozen=True)
class PushOutcome:
    """What a push did: `status` accepted / duplicate / ignored, and the order and ingest outcome if accepted."""

    status: str
    order_id: uuid.UUID | None = None
    result: str | None = None


@dataclass(frozen=True)
class _Verified:
    connection: PosConnection
    document: Any
    delivery_id: str
    topic: str | None
    access_token: str | None


async def resolve_tenant(*, db: Database, connection_id: uuid.UUID) -> uuid.UUID | None:
    """The tenant of the live, non-default connection `connection_id`, or None (read before any tenant is known)."""
    async with db.transaction() as session:
        return (await session.execute(_TENANT_OF, {"connection_id": connection_id})).scalar_one()


def _document(body: bytes) -> Any:
    try:
        return jsonio.loads(body)[0]
    except PayloadTooDeep:
        raise
    except (ValueError, UnicodeDecodeError):
        return None


def _is_ping(source: str, headers: Mapping[str, str], body: bytes, document: Any) -> bool:
    """A platform's unsigned hello: WooCommerce's form-encoded `webhook_id=<n>`, Zettle's TestMessage."""
    if source == "woocommerce":
        return document is None and body.startswith(b"webhook_id=")
    if source == "zettle":
        return isinstance(document, dict) and document.get("eventName") == "TestMessage"
    return False


def _delivery(source: str, headers: Mapping[str, str], document: Any) -> tuple[str | None, str | None]:
    """(delivery id, topic) of a verified push."""
    body = document if isinstance(document, dict) else {}
    if source == "shopify":
        return headers.get("x-shopify-webhook-id"), headers.get("x-shopify-topic")
    if source == "woocommerce":
        return headers.get("x-wc-webhook-delivery-id"), headers.get("x-wc-webhook-topic")
    if source == "square":
        return _str(body.get("event_id")), _str(body.get("type"))
    if source == "zettle":
        return _str(body.get("messageId")) or _str(body.get("eventId")), _str(body.get("eventName"))
    return headers.get("webhook-id"), _str(body.get("type"))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _is_order_topic(source: str, topic: str | None) -> bool:
    if source == "shopify":
        return topic is None or topic.startswith("orders/")
    if source == "woocommerce":
        return topic is None or topic.startswith("order.")
    if source == "square":
        return topic in SQUARE_ORDER_EVENTS
    if source == "zettle":
        return topic in ZETTLE_ORDER_EVENTS
    return True


def _secrets(connection: PosConnection, cipher: CredentialsCipher | None) -> list[str]:
    if not connection.signing_secret_ciphertext:
        return []
    if cipher is None:
        raise CredentialsEncryptionUnconfigured(
            "The server cannot read signing secrets: CREDENTIALS_ENCRYPTION_KEYS is missing or malformed."
        )
    try:
        return connections.signing_secrets(connection=connection, cipher=cipher)
    except CredentialsDecryptError as exc:
        logger.error("pos connection %s signing secret: %s", connection.id, exc)
        raise InternalError("The connection's signing secret cannot be decrypted with the server's keys.") from None


async def _verified(
    *, db: Database, tenant_id: uuid.UUID, connection_id: uuid.UUID, cipher: CredentialsCipher | None,
    headers: Mapping[str, str], body: bytes, base_url: str,
) -> _Verified | PushOutcome:
    async with db.transaction(tenant_id) as session:
        connection = await connections.get(session=session, tenant_id=tenant_id, connection_id=connection_id)
        if connection is None or connection.is_default:
            raise ConnectionNotFound("No such POS connection.")
        source = connection.source
        if source not in PUSH_SOURCES:
            raise PushNotSupported(f"{source} pushes cannot be verified; send orders to POST /v1/pos/{source}/ingest.")
        document = _document(body)
        if _is_ping(source, headers, body, document):
            return PushOutcome(status="ignored")
        notification_url = connection.notification_url or base_url + connections.webhook_path(connection.id)
        try:
            verify(source, secrets=_secrets(connection, cipher), headers=headers, body=body, notification_url=notification_url)
        except SignatureInvalid as exc:
            raise PushSignatureInvalid(f"The push is not authentic: {exc.reason}.") from None
        delivery_id, topic = _delivery(source, headers, document)
        if document is None:
            raise PushPayloadInvalid("The push body is not JSON.")
        if not delivery_id:
            raise PushPayloadInvalid(f"The {source} push carries no delivery id.")
        if not _is_order_topic(source, topic):
            return PushOutcome(status="ignored")
        seen = await session.execute(
            select(PosPushDelivery.order_id).where(
                PosPushDelivery.tenant_id == tenant_id,
                PosPushDelivery.connection_id == connection.id,
                PosPushDelivery.delivery_id == delivery_id[:200],
            )
        )
        if (found := seen.first()) is not None:
            return PushOutcome(status="duplicate", order_id=found.order_id)
        token = None
        if source == "square" and cipher is not None and connection.access_token_ciphertext:
            try:
                token = connections.access_token(connection=connection, cipher=cipher)
            except CredentialsDecryptError:
                logger.error("pos connection %s access token cannot be decrypted", connection.id)
        return _Verified(connection, document, delivery_id[:200], topic, token)


async def fetch_square_order(
    *, http: CarrierHttp, settings: Settings, connection: PosConnection, access_token: str | None, order_id: str
) -> Any:
    """Square's RetrieveOrder (`GET /v2/orders/{order_id}`) with the connection's access token: ``{"order": {...}}``.

    Raises PlatformUnavailable 502 when there is no token or Square does not answer with the order.
    """
    if not access_token:
        raise PlatformUnavailable("The connection has no Square access token to fetch the order with (PATCH access_token).")
    base = (settings.square_base_url or SQUARE_HOSTS.get(connection.environment, SQUARE_HOSTS["production"])).rstrip("/")
    try:
        response = await http.request(
            "square",
            "GET",
            f"{base}/v2/orders/{order_id}",
            operation="retrieve_order",
            headers={"Authorization": f"Bearer {access_token}", "Square-Version": SQUARE_VERSION},
        )
        return decode_json("square", response)
    except CarrierError as exc:
        raise PlatformUnavailable(f"Square did not return order {order_id}: {exc.message}") from None


async def receive(
    *,
    db: Database,
    settings: Settings,
    cipher: CredentialsCipher | None,
    http: CarrierHttp,
    connection_id: uuid.UUID,
    headers: Mapping[str, str],
    body: bytes,
) -> PushOutcome:
    """Verify, deduplicate and ingest one push (steps in the module docstring); `headers` with lower-case names.

    Raises Problems, none of which stores anything: 404 `not-found` (no live
    connection), 400 `push-not-supported` (Lightspeed), 401
    `push-signature-invalid`, 400 `push-payload-invalid`, 422
    `payload-too-deep` / `invalid-order-payload`... as PushPayloadInvalid,
    502 `platform-unavailable` (Square order not fetched).
    """
    tenant_id = await resolve_tenant(db=db, connection_id=connection_id)
    if tenant_id is None:
        raise ConnectionNotFound("No such POS connection.")
    checked = await _verified(
        db=db, tenant_id=tenant_id, connection_id=connection_id, cipher=cipher, headers=headers, body=body,
        base_url=settings.public_base,
    )
    if isinstance(checked, PushOutcome):
        return checked
    connection, payload = checked.connection, checked.document
    raw_json = body.decode("utf-8") if connection.source != "square" and _strict_json(body) else None
    if connection.source == "square":
        order_id = event_order_id(payload) if isinstance(payload, dict) else None
        if order_id is None:
            raise PushPayloadInvalid("The Square event names no order.")
        payload = await fetch_square_order(
            http=http, settings=settings, connection=connection, access_token=checked.access_token, order_id=order_id
        )
    try:
        order = get_mapper(connection.source)(payload, headers)
    except PayloadError as exc:
        raise PushPayloadInvalid(f"The push carries no order this server can read: {exc}") from None
    async with db.transaction(tenant_id) as session:
        delivery_row_id = (
            await session.execute(
                insert(PosPushDelivery)
                .values(
                    tenant_id=tenant_id, id=new_id(), connection_id=connection.id, delivery_id=checked.delivery_id,
                    topic=(checked.topic or "")[:100] or None, result="accepted",
                )
                .on_conflict_do_nothing(index_elements=["tenant_id", "connection_id", "delivery_id"])
                .returning(PosPushDelivery.id)
            )
        ).scalar_one_or_none()
        if delivery_row_id is None:  # a concurrent copy of the same delivery won
            return PushOutcome(status="duplicate")
        row, outcome = await service.ingest(
            session=session, tenant_id=tenant_id, connection_id=connection.id, source=connection.source, order=order,
            raw_payload=payload, raw_json=raw_json,
        )
        delivery = await session.get(PosPushDelivery, (tenant_id, delivery_row_id))
        if delivery is not None:
            delivery.order_id = row["id"]
            delivery.result = outcome
    logger.info("%s push %s for connection %s: %s order %s", connection.source, checked.delivery_id, connection.id, outcome, row["id"])
    return PushOutcome(status="accepted", order_id=row["id"], result=outcome)


def _strict_json(body: bytes) -> bool:
    """Whether the body is JSON PostgreSQL stores as received (else the service serializes what was parsed)."""
    try:
        return jsonio.loads(body)[1]
    except Exception:
        return False
