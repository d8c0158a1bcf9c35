"""Zettle (PayPal) purchases: the Pusher API `PurchaseCreated` event and Purchase API v2 objects.

Format source: Zettle's public API docs (iZettle/api-documentation):
pusher-api/concept/event-payloads.md (`PurchaseCreated`: an envelope whose
`payload` is a JSON *string* holding the purchase, keyed by `purchaseUuid`),
pusher-api/user-guides/create-subscriptions.md (the `TestMessage` sent when a
subscription is created) and purchase.adoc (GET /purchase/v2/{uuid}: keyed by
`purchaseUUID1`, with `purchaseUUID` the same UUID as base64url).

Money: integer minor units (`amount`, `vatAmount`, product `unitPrice`,
`discountValue`), prices VAT-inclusive. Quantities: decimal strings. A Zettle
purchase is an in-store sale: it has no customer and no shipping address.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from typing import Any

from app.core import jsonio
from app.pos.canonical import CanonicalOrder, PayloadError
from app.pos.sources._fields import (
    as_list,
    build_order,
    currency_code,
    join_text,
    minor_units,
    quantity,
    require_dict,
    require_id,
    shown,
    text,
    timestamp,
)

SOURCE = "zettle"


def _open_envelope(body: dict[str, Any]) -> dict[str, Any]:
    event = body.get("eventName")
    if event == "TestMessage":
        raise PayloadError(
            "zettle: this is the TestMessage Zettle sends once when a subscription is created, "
            "not a purchase; acknowledge it and ignore it"
        )
    if event != "PurchaseCreated":
        raise PayloadError(f"zettle: event {shown(event)} is not a purchase; only PurchaseCreated can be mapped")
    inner = body.get("payload")
    if isinstance(inner, str):
        try:
            inner = json.loads(inner)
        except json.JSONDecodeError as exc:
            raise PayloadError(f"zettle: PurchaseCreated payload string is not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise jsonio.too_deep() from None
        jsonio.ensure_depth(inner)  # the JSON inside the string gets the same depth limit as the body (422)
    return require_dict(inner, "zettle: PurchaseCreated payload")


def _purchase_id(purchase: dict[str, Any]) -> str:
    for key in ("purchaseUuid", "purchaseUUID1"):
        if purchase.get(key) is not None:
            return require_id(purchase[key], f"zettle: {key}")
    compact = text(purchase.get("purchaseUUID"), "zettle: purchaseUUID")
    if compact is None:
        raise PayloadError("zettle: purchase id (purchaseUuid / purchaseUUID1 / purchaseUUID) is missing")
    # purchaseUUID is the same UUID as purchaseUUID1 in base64url; normalise so both shapes dedupe together.
    try:
        return str(uuid.UUID(bytes=base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))))
    except (binascii.Error, ValueError):
        raise PayloadError(f"zettle: purchaseUUID {shown(compact)} is not a base64url UUID") from None


def _line_item(raw: Any, index: int) -> dict[str, Any]:
    field = f"zettle: products[{index}]"
    product = require_dict(raw, field)
    qty = quantity(product.get("quantity"), f"{field}.quantity")
    unit_price = minor_units(product.get("unitPrice"), f"{field}.unitPrice")
    # discountValue is the line's discount in minor units (purchase.adoc, "Purchases with discounts").
    discount = minor_units(product["discountValue"], f"{field}.discountValue") if "discountValue" in product else 0
    name = join_text(text(product.get("name"), f"{field}.name"),
                     text(product.get("variantName"), f"{field}.variantName"), sep=" - ")
    return {
        "external_id": text(product.get("id"), f"{field}.id"),
        "sku": text(product.get("sku"), f"{field}.sku"),
        "name": name or "Custom amount",
        "quantity": qty,
        "unit_price": unit_price,
        "total": unit_price * qty - discount,
    }


def map_order(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    """Map a Zettle PurchaseCreated envelope, or a Purchase API v2 purchase, to a CanonicalOrder.

    The envelope's `payload` string is parsed as JSON. external_id =
    `purchaseUuid` (webhook) / `purchaseUUID1` (v2; `purchaseUUID` decoded if
    alone; scope it by organization), order_number = `purchaseNumber`,
    placed_at = `created` (else `timestamp`). Money as given in minor units:
    total = `amount`, tax_total = `vatAmount`; line total = unitPrice x
    quantity - discountValue. Line name = `name` + " - " + `variantName`. No
    customer or shipping address (Zettle has none). A purchase is paid when
    made: ready_to_ship; updated_at = `created` (Zettle never changes a
    purchase: a refund is another purchase). `headers` is unused; pushes are
    verified (X-iZettle-Signature) before any mapper runs (app.pos.verify).
    Raises PayloadError for the
    TestMessage, other events, refund purchases, a non-object body, missing
    id/currency/amount, fractional quantities or any malformed field.
    """
    body = require_dict(payload, "zettle: body")
    purchase = _open_envelope(body) if "eventName" in body else body
    external_id = _purchase_id(purchase)
    if purchase.get("refund") is True:
        raise PayloadError(f"zettle: purchase {external_id} is a refund, not a sale to ship")
    placed_at = timestamp(purchase.get("created"), "zettle: created") or timestamp(
        purchase.get("timestamp"), "zettle: timestamp"
    )
    vat = purchase.get("vatAmount")
    return build_order(
        SOURCE,
        external_id=external_id,
        order_number=text(purchase.get("purchaseNumber"), "zettle: purchaseNumber"),
        placed_at=placed_at,
        currency=currency_code(purchase.get("currency"), "zettle: currency"),
        line_items=[
            _line_item(raw, i) for i, raw in enumerate(as_list(purchase.get("products"), "zettle: products"))
        ],
        tax_total=None if vat is None else minor_units(vat, "zettle: vatAmount"),
        total=minor_units(purchase.get("amount"), "zettle: amount"),
        status="completed",
        ready_to_ship=True,
        source_updated_at=placed_at,
    )
