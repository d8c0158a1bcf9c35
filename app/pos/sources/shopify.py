"""Shopify orders: the Admin REST `Order` resource.

Format source: Shopify's webhook reference for the `orders/create` /
`orders/paid` topics (the body is the Order resource; Shopify's own
"Send test notification" sample is order 820982911946154508, `#9999`), and the
REST Order resource as in Shopify's `shopify_python_api` fixture
`test/fixtures/order.json` (wrapped as ``{"order": {...}}``).

Money: decimal strings in the shop currency (`currency`). Ids: JSON integers
above 2**53, kept exactly as strings.
"""

from __future__ import annotations

from collections.abc import Mapping
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

SOURCE = "shopify"


def _unwrap(payload: Any) -> dict[str, Any]:
    body = require_dict(payload, "shopify: order body")
    inner = body.get("order")
    if "id" not in body and isinstance(inner, dict):
        return inner  # REST response shape {"order": {...}}
    return body


def _line_item(raw: Any, index: int, currency: str) -> dict[str, Any]:
    field = f"shopify: line_items[{index}]"
    item = require_dict(raw, field)
    qty = quantity(item.get("quantity"), f"{field}.quantity")
    unit_price = money(item.get("price"), currency, f"{field}.price")
    allocations = item.get("discount_allocations")
    if allocations:
        discount = sum(
            money(require_dict(a, f"{field}.discount_allocations[{i}]").get("amount"), currency,
                  f"{field}.discount_allocations[{i}].amount")
            for i, a in enumerate(as_list(allocations, f"{field}.discount_allocations"))
        )
    else:
        discount = optional_money(item.get("total_discount"), currency, f"{field}.total_discount") or 0
    name = text(item.get("name"), f"{field}.name") or text(item.get("title"), f"{field}.title")
    if name is None:
        raise PayloadError(f"{field} has neither name nor title")
    return {
        "external_id": text(item.get("id"), f"{field}.id"),
        "sku": text(item.get("sku"), f"{field}.sku"),
        "name": name,
        "quantity": qty,
        "unit_price": unit_price,
        "total": unit_price * qty - discount,
        "grams": _grams(item.get("grams"), f"{field}.grams"),
    }


def _grams(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"{field} must be a non-negative integer, got {shown(value)}")
    return value


def _tags(value: Any) -> list[str]:
    # Shopify sends tags as one comma-separated string ("tag1, tag2").
    raw = text(value, "shopify: tags")
    return [tag.strip() for tag in raw.split(",") if tag.strip()] if raw else []


def _address(raw: Any, email: str | None) -> dict[str, Any] | None:
    data = optional_dict(raw, "shopify: shipping_address")
    if not data:
        return None
    field = "shopify: shipping_address"
    return dict(
        name=text(data.get("name"), f"{field}.name")
        or join_text(text(data.get("first_name"), f"{field}.first_name"),
                     text(data.get("last_name"), f"{field}.last_name")),
        company=text(data.get("company"), f"{field}.company"),
        line1=text(data.get("address1"), f"{field}.address1"),
        line2=text(data.get("address2"), f"{field}.address2"),
        city=text(data.get("city"), f"{field}.city"),
        region=text(data.get("province_code"), f"{field}.province_code")
        or text(data.get("province"), f"{field}.province"),
        postal_code=text(data.get("zip"), f"{field}.zip"),
        country=country_code(data.get("country_code"), f"{field}.country_code"),
        phone=text(data.get("phone"), f"{field}.phone"),
        email=email,
    )


def _customer(order: dict[str, Any], email: str | None) -> dict[str, Any] | None:
    data = optional_dict(order.get("customer"), "shopify: customer") or {}
    customer = dict(
        external_id=text(data.get("id"), "shopify: customer.id"),
        name=join_text(text(data.get("first_name"), "shopify: customer.first_name"),
                       text(data.get("last_name"), "shopify: customer.last_name")),
        email=email,
        phone=text(order.get("phone"), "shopify: phone") or text(data.get("phone"), "shopify: customer.phone"),
    )
    return customer if any(value is not None for value in customer.values()) else None


def _shipping_total(order: dict[str, Any], currency: str) -> int | None:
    price_set = optional_dict(order.get("total_shipping_price_set"), "shopify: total_shipping_price_set")
    if price_set and isinstance(price_set.get("shop_money"), dict):
        return money(price_set["shop_money"].get("amount"), currency,
                     "shopify: total_shipping_price_set.shop_money.amount")
    if "shipping_lines" not in order:
        return None
    lines = as_list(order.get("shipping_lines"), "shopify: shipping_lines")
    return sum(
        money(require_dict(line, f"shopify: shipping_lines[{i}]").get("price"), currency,
              f"shopify: shipping_lines[{i}].price")
        for i, line in enumerate(lines)
    )


def map_order(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    """Map a Shopify Order (webhook body, or REST ``{"order": {...}}``) to a CanonicalOrder.

    external_id = `id` (exact string), order_number = `name` ("#1001"),
    placed_at = `processed_at` or `created_at`; money fields from the decimal
    strings `subtotal_price`, `total_tax`, `total_discounts`, `total_price`
    and the shipping set/lines, in minor units of `currency`. Line total =
    price x quantity - discount allocations (excl. tax unless `taxes_included`).
    Customer email is the order's `email`/`contact_email` (the address
    Shopify notifies), falling back to `customer.email`. `test` and
    `financial_status` are copied. source_updated_at = `updated_at`; cancelled when
    `cancelled_at` is set or the push's `X-Shopify-Topic` is `orders/cancelled`;
    ready_to_ship when `financial_status` is `paid` and not cancelled; tags
    from the comma-separated `tags`; line grams from `grams`. Signatures are
    checked before any mapper runs (app.pos.verify, platform pushes only).
    Raises PayloadError for a non-object body, missing
    `id`/`currency`, or any malformed field.
    """
    order = _unwrap(payload)
    external_id = require_id(order.get("id"), "shopify: id")
    currency = currency_code(order.get("currency"), "shopify: currency")
    email = text(order.get("email"), "shopify: email") or text(order.get("contact_email"), "shopify: contact_email")
    if email is None and isinstance(order.get("customer"), dict):
        email = text(order["customer"].get("email"), "shopify: customer.email")
    test = order.get("test", False)
    if not isinstance(test, bool):
        raise PayloadError(f"shopify: test must be true or false, got {shown(test)}")
    financial_status = text(order.get("financial_status"), "shopify: financial_status")
    cancelled = timestamp(order.get("cancelled_at"), "shopify: cancelled_at") is not None or (
        (headers.get("x-shopify-topic") or "").strip() == "orders/cancelled"
    )
    return build_order(
        SOURCE,
        external_id=external_id,
        order_number=text(order.get("name"), "shopify: name")
        or text(order.get("order_number"), "shopify: order_number"),
        placed_at=timestamp(order.get("processed_at"), "shopify: processed_at")
        or timestamp(order.get("created_at"), "shopify: created_at"),
        currency=currency,
        customer=_customer(order, email),
        shipping_address=_address(order.get("shipping_address"), email),
        line_items=[
            _line_item(raw, i, currency)
            for i, raw in enumerate(as_list(order.get("line_items"), "shopify: line_items"))
        ],
        subtotal=optional_money(order.get("subtotal_price"), currency, "shopify: subtotal_price"),
        shipping_total=_shipping_total(order, currency),
        tax_total=optional_money(order.get("total_tax"), currency, "shopify: total_tax"),
        discount_total=optional_money(order.get("total_discounts"), currency, "shopify: total_discounts"),
        total=money(order.get("total_price"), currency, "shopify: total_price"),
        financial_status=financial_status,
        test=test,
        status="cancelled" if cancelled else text(order.get("fulfillment_status"), "shopify: fulfillment_status") or "open",
        cancelled=cancelled,
        ready_to_ship=financial_status == "paid" and not cancelled,
        source_updated_at=timestamp(order.get("updated_at"), "shopify: updated_at"),
        tags=_tags(order.get("tags")),
    )
