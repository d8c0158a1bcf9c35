"""WooCommerce orders: the REST API `wc/v3` Order object.

Format source: WooCommerce REST API docs (woocommerce/woocommerce-rest-api-docs,
source/includes/wp-api-v3/_orders.md, "Create an order" response, order 727);
per _webhooks.md an `order.*` webhook set to "WP REST API Integration v3"
delivers exactly this object. When a webhook is saved WooCommerce first POSTs
a form-encoded ping ``webhook_id=<n>`` (class-wc-webhook.php `deliver_ping()`).

Money: decimal strings in `currency` (line `price` is a float computed by
WooCommerce and is not read). Ids: integers, per site.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.pos.canonical import CanonicalOrder, PayloadError
from app.pos.sources._fields import (
    as_list,
    build_order,
    country_code,
    currency_code,
    join_text,
    money,
    optional_dict,
    optional_money,
    quantity,
    require_dict,
    require_id,
    shown,
    text,
    timestamp,
)

SOURCE = "woocommerce"


def _check_shape(payload: Any) -> dict[str, Any]:
    body = require_dict(payload, "woocommerce: order body")
    if set(body) == {"webhook_id"}:
        raise PayloadError(
            "woocommerce: this is the webhook ping WooCommerce sends when a webhook is saved "
            f"(webhook_id={shown(body['webhook_id'])}), not an order; acknowledge it and ignore it"
        )
    if "id" not in body and isinstance(body.get("order"), dict):
        raise PayloadError(
            "woocommerce: legacy API v3 webhook payload ({\"order\": {...}}) is not supported; "
            "set the webhook's API version to \"WP REST API Integration v3\""
        )
    return body


def _line_item(raw: Any, index: int, currency: str) -> dict[str, Any]:
    field = f"woocommerce: line_items[{index}]"
    item = require_dict(raw, field)
    qty = quantity(item.get("quantity"), f"{field}.quantity")
    subtotal = money(item.get("subtotal"), currency, f"{field}.subtotal")
    # `subtotal` is the line before coupons; WooCommerce's own `price` is a float
    # (total / quantity), so the unit price is derived from the decimal string.
    unit_price = subtotal if qty == 0 else int((Decimal(subtotal) / qty).to_integral_value(ROUND_HALF_UP))
    name = text(item.get("name"), f"{field}.name")
    if name is None:
        raise PayloadError(f"{field}.name is missing")
    return {
        "external_id": text(item.get("id"), f"{field}.id"),
        "sku": text(item.get("sku"), f"{field}.sku"),
        # WooCommerce stores product names HTML-escaped ("Ship Your Idea &ndash; ...").
        "name": html.unescape(name),
        "quantity": qty,
        "unit_price": unit_price,
        "total": money(item.get("total"), currency, f"{field}.total"),
    }


def _address(shipping: dict[str, Any], billing: dict[str, Any]) -> dict[str, Any] | None:
    field = "woocommerce: shipping"
    address = {
        "name": join_text(text(shipping.get("first_name"), f"{field}.first_name"),
                          text(shipping.get("last_name"), f"{field}.last_name")),
        "company": text(shipping.get("company"), f"{field}.company"),
        "line1": text(shipping.get("address_1"), f"{field}.address_1"),
        "line2": text(shipping.get("address_2"), f"{field}.address_2"),
        "city": text(shipping.get("city"), f"{field}.city"),
        "region": text(shipping.get("state"), f"{field}.state"),
        "postal_code": text(shipping.get("postcode"), f"{field}.postcode"),
        "country": country_code(shipping.get("country"), f"{field}.country"),
    }
    if not any(address.values()):
        return None  # virtual/downloadable orders have an all-empty shipping block
    # Older stores have no shipping.phone and no shipping email: contact data is on billing.
    address["phone"] = text(shipping.get("phone"), f"{field}.phone") or text(
        billing.get("phone"), "woocommerce: billing.phone"
    )
    address["email"] = text(billing.get("email"), "woocommerce: billing.email")
    return address


def _customer(order: dict[str, Any], billing: dict[str, Any]) -> dict[str, Any] | None:
    customer_id = order.get("customer_id")
    customer = {
        # customer_id 0 means a guest checkout.
        "external_id": None if customer_id in (0, "0", None) else text(customer_id, "woocommerce: customer_id"),
        "name": join_text(text(billing.get("first_name"), "woocommerce: billing.first_name"),
                          text(billing.get("last_name"), "woocommerce: billing.last_name")),
        "email": text(billing.get("email"), "woocommerce: billing.email"),
        "phone": text(billing.get("phone"), "woocommerce: billing.phone"),
    }
    return customer if any(value is not None for value in customer.values()) else None


def map_order(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    """Map a WooCommerce `wc/v3` order object (webhook body or REST response) to a CanonicalOrder.

    external_id = `id` (unique per site: scope it by X-WC-Webhook-Source),
    order_number = `number`, placed_at = `date_created_gmt` (UTC). Money
    from the decimal strings `total`, `shipping_total`, `total_tax`,
    `discount_total` and line `subtotal`/`total` (excl. tax), in minor units of
    `currency`; unit_price = line subtotal / quantity (before coupons). Address
    from `shipping`, with phone/email from `billing`. financial_status stays
    None (WooCommerce's `status` is an order workflow state, kept as `status`:
    `cancelled` cancels, `processing` is paid and ready to ship). updated_at =
    `date_modified_gmt` (UTC). `headers` is unused. Raises PayloadError for the ``webhook_id`` ping, a legacy API v3
    ``{"order": ...}`` body, a non-object body, missing `id`/`currency`, or any
    malformed field.
    """
    order = _check_shape(payload)
    external_id = require_id(order.get("id"), "woocommerce: id")
    currency = currency_code(order.get("currency"), "woocommerce: currency")
    billing = optional_dict(order.get("billing"), "woocommerce: billing") or {}
    shipping = optional_dict(order.get("shipping"), "woocommerce: shipping") or {}
    placed_at = timestamp(order.get("date_created_gmt"), "woocommerce: date_created_gmt", naive_is_utc=True)
    if placed_at is None:
        try:
            placed_at = timestamp(order.get("date_created"), "woocommerce: date_created")
        except PayloadError:
            placed_at = None  # store-local time without an offset: unknown instant, order still shippable
    status = text(order.get("status"), "woocommerce: status")
    return build_order(
        SOURCE,
        external_id=external_id,
        order_number=text(order.get("number"), "woocommerce: number"),
        placed_at=placed_at,
        currency=currency,
        customer=_customer(order, billing),
        shipping_address=_address(shipping, billing),
        line_items=[
            _line_item(raw, i, currency)
            for i, raw in enumerate(as_list(order.get("line_items"), "woocommerce: line_items"))
        ],
        shipping_total=optional_money(order.get("shipping_total"), currency, "woocommerce: shipping_total"),
        tax_total=optional_money(order.get("total_tax"), currency, "woocommerce: total_tax"),
        discount_total=optional_money(order.get("discount_total"), currency, "woocommerce: discount_total"),
        total=money(order.get("total"), currency, "woocommerce: total"),
        status=status,
        cancelled=status == "cancelled",
        ready_to_ship=status == "processing",
        source_updated_at=timestamp(order.get("date_modified_gmt"), "woocommerce: date_modified_gmt", naive_is_utc=True),
    )
