"""Square orders: the Orders API `Order` object.

Format source: Square's official OpenAPI spec (square/connect-api-specification,
api.json: `Order`, `RetrieveOrderResponse`, `CreateOrderResponse` and the
`OrderCreatedEvent` / `OrderUpdatedEvent` / `PaymentCreatedEvent` examples).

Square's webhook events are thin (`order_id`, `state`, `version` only; a
payment event only `payment.order_id`), so they cannot be mapped: a push to
`POST /v1/pos/webhooks/{connection_id}` fetches the order with RetrieveOrder
(GET /v2/orders/{order_id}, the connection's access token; app.pos.push), and
an API-key ingest sends that ``{"order": {...}}`` or the bare Order itself. Money: ``{"amount": <integer minor
units>, "currency": "USD"}``. Quantities: decimal strings.
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
    minor_units,
    optional_dict,
    quantity,
    require_dict,
    require_id,
    shown,
    text,
    timestamp,
)

SOURCE = "square"


def event_order_id(event: dict[str, Any]) -> str | None:
    """The order id a Square event names (`data.object.<order_*|payment>.order_id`), or None."""
    obj = event.get("data", {}).get("object") if isinstance(event.get("data"), dict) else None
    if not isinstance(obj, dict):
        return None
    for value in obj.values():
        if isinstance(value, dict) and isinstance(value.get("order_id"), str):
            return value["order_id"]
    return None


def _unwrap(payload: Any) -> dict[str, Any]:
    body = require_dict(payload, "square: order body")
    if isinstance(body.get("order"), dict):
        return body["order"]  # RetrieveOrder / CreateOrder response
    if "event_id" in body or ("type" in body and "data" in body):
        order_id = event_order_id(body)
        target = f" (GET /v2/orders/{order_id})" if order_id else ""
        raise PayloadError(
            f"square: the {shown(body.get('type', 'webhook'))} event carries no line items or address; "
            f"send the order object from RetrieveOrder{target} instead"
        )
    return body


class _Money:
    """Reads Square Money objects, insisting they are all in the order's currency."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def __call__(self, value: Any, field: str, *, required: bool = False) -> int | None:
        if value is None:
            if required:
                raise PayloadError(f"{field} is missing")
            return None
        data = require_dict(value, field)
        found = currency_code(data.get("currency"), f"{field}.currency")
        if found != self.currency:
            raise PayloadError(f"{field} is in {found}, but the order total is in {self.currency}")
        return minor_units(data.get("amount"), f"{field}.amount")


def _line_item(raw: Any, index: int, read_money: _Money) -> dict[str, Any]:
    field = f"square: line_items[{index}]"
    item = require_dict(raw, field)
    name = join_text(text(item.get("name"), f"{field}.name"),
                     text(item.get("variation_name"), f"{field}.variation_name"), sep=" - ")
    return {
        "external_id": text(item.get("uid"), f"{field}.uid"),
        "sku": None,  # the SKU lives on the catalog variation (`catalog_object_id`), not on the order
        "name": name or "Custom amount",
        "quantity": quantity(item.get("quantity"), f"{field}.quantity"),
        "unit_price": read_money(item.get("base_price_money"), f"{field}.base_price_money", required=True),
        "total": read_money(item.get("total_money"), f"{field}.total_money", required=True),
    }


def _recipient(order: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    # Only SHIPMENT and DELIVERY fulfillments go to an address (PICKUP is in-store).
    for index, raw in enumerate(as_list(order.get("fulfillments"), "square: fulfillments")):
        fulfillment = require_dict(raw, f"square: fulfillments[{index}]")
        kind = fulfillment.get("type")
        key = {"SHIPMENT": "shipment_details", "DELIVERY": "delivery_details"}.get(kind)
        details = optional_dict(fulfillment.get(key), f"square: fulfillments[{index}].{key}") if key else None
        if details and isinstance(details.get("recipient"), dict):
            return details["recipient"], f"square: fulfillments[{index}].{key}.recipient"
    return None


def _address(order: dict[str, Any]) -> dict[str, Any] | None:
    found = _recipient(order)
    if found is None:
        return None
    recipient, field = found
    address = optional_dict(recipient.get("address"), f"{field}.address") or {}
    f = f"{field}.address"
    return {
        "name": text(recipient.get("display_name"), f"{field}.display_name")
        or join_text(text(address.get("first_name"), f"{f}.first_name"),
                     text(address.get("last_name"), f"{f}.last_name")),
        "line1": text(address.get("address_line_1"), f"{f}.address_line_1"),
        "line2": join_text(text(address.get("address_line_2"), f"{f}.address_line_2"),
                           text(address.get("address_line_3"), f"{f}.address_line_3"), sep=", "),
        "city": text(address.get("locality"), f"{f}.locality"),
        "region": text(address.get("administrative_district_level_1"), f"{f}.administrative_district_level_1"),
        "postal_code": text(address.get("postal_code"), f"{f}.postal_code"),
        "country": country_code(address.get("country"), f"{f}.country"),
        "phone": text(recipient.get("phone_number"), f"{field}.phone_number"),
        "email": text(recipient.get("email_address"), f"{field}.email_address"),
    }


def map_order(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    """Map a Square Order (``{"order": {...}}`` or the bare Order) to a CanonicalOrder.

    external_id = `id` (scope it by merchant), order_number = `reference_id`,
    placed_at = `created_at`, currency = `total_money.currency`. Money is read
    as given (integer minor units): total = `total_money`, tax_total =
    `total_tax_money`, discount_total = `total_discount_money`; per line
    unit_price = `base_price_money`, total = `total_money` (after discounts,
    incl. taxes, as Square reports it). Line name = `name` + " - " +
    `variation_name`. Address from the first SHIPMENT/DELIVERY fulfillment's
    recipient. status = `state`; cancelled when `CANCELED`; ready_to_ship
    when `OPEN` or `COMPLETED` with nothing left to pay (`net_amount_due_money`
    0 or absent with tenders); source_version = `version`, source_updated_at =
    `updated_at`.
    `headers` is unused. Raises PayloadError for webhook events
    (order.created/updated, payment.*: fetch the order first), a non-object
    body, missing `id`/`total_money`, mixed currencies, fractional quantities,
    or any malformed field.
    """
    order = _unwrap(payload)
    external_id = require_id(order.get("id"), "square: id")
    if order.get("total_money") is None:
        raise PayloadError("square: total_money is missing (is this an Order object?)")
    total_money = require_dict(order["total_money"], "square: total_money")
    read_money = _Money(currency_code(total_money.get("currency"), "square: total_money.currency"))
    customer_id = text(order.get("customer_id"), "square: customer_id")
    state = text(order.get("state"), "square: state")
    due = read_money(order.get("net_amount_due_money"), "square: net_amount_due_money")
    paid = due == 0 if due is not None else bool(order.get("tenders"))
    version = order.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise PayloadError(f"square: version must be an integer, got {shown(version)}")
    return build_order(
        SOURCE,
        external_id=external_id,
        order_number=text(order.get("reference_id"), "square: reference_id"),
        placed_at=timestamp(order.get("created_at"), "square: created_at"),
        currency=read_money.currency,
        customer={"external_id": customer_id} if customer_id else None,
        shipping_address=_address(order),
        line_items=[
            _line_item(raw, i, read_money)
            for i, raw in enumerate(as_list(order.get("line_items"), "square: line_items"))
        ],
        tax_total=read_money(order.get("total_tax_money"), "square: total_tax_money"),
        discount_total=read_money(order.get("total_discount_money"), "square: total_discount_money"),
        total=read_money(total_money, "square: total_money", required=True),
        status=state,
        cancelled=state == "CANCELED",
        ready_to_ship=state in ("OPEN", "COMPLETED") and paid,
        source_version=version,
        source_updated_at=timestamp(order.get("updated_at"), "square: updated_at"),
    )
