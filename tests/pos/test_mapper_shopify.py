"""Shopify mapper against Shopify's own sample orders (../shared/pos-samples/shopify).

Expected values are copied from the sample files: the test states what the
platform document says.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from app.pos.canonical import PayloadError
from app.pos.sources.shopify import map_order

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "pos-samples"
EST = timezone(timedelta(hours=-5))


def load(name: str) -> Any:
    if not SAMPLES.is_dir():
        pytest.skip(f"POS samples folder {SAMPLES} is missing (expected ../shared/pos-samples beside the repo)")
    return json.loads((SAMPLES / "shopify" / name).read_text(encoding="utf-8"))


def test_test_notification_order_field_by_field() -> None:
    order = map_order(load("orders-create.test-notification.json"), {})

    assert order.external_id == "820982911946154508"  # > 2**53: a float would read ...496
    assert order.order_number == "#9999"
    assert order.placed_at == datetime(2021, 12, 31, 19, 0, tzinfo=EST)
    assert order.currency == "USD"
    assert order.test is True
    assert order.financial_status == "voided"

    assert order.customer is not None
    assert order.customer.external_id == "115310627314723954"
    assert order.customer.name == "John Smith"
    # The order's own email (jon@) wins over the customer record's (john@): Shopify notifies the order email.
    assert order.customer.email == "jon@example.com"

    address = order.shipping_address
    assert address is not None
    assert address.name == "Steve Shipper"
    assert address.company == "Shipping Company"
    assert address.line1 == "123 Shipping Street"
    assert address.line2 is None
    assert address.city == "Shippington"
    assert address.region == "KY"
    assert address.postal_code == "40003"
    assert address.country == "US"
    assert address.phone == "555-555-SHIP"
    assert address.email == "jon@example.com"

    assert [(i.external_id, i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.line_items] == [
        ("487817672276298554", "SKU2006-001", "Aviator sunglasses", 1, 8999, 8999),
        ("976318377106520349", "SKU2006-020", "Mid-century lounger", 1, 15999, 15999),
        ("315789986012684393", "SKU2006-035", "Coffee table", 1, 11999, 11999),
    ]

    assert order.subtotal == 35997  # subtotal_price "359.97" (as the sample states it)
    assert order.shipping_total == 1000  # total_shipping_price_set.shop_money "10.00"
    assert order.tax_total == 0
    assert order.discount_total == 2000
    assert order.total == 35997


def test_rest_resource_order_field_by_field() -> None:
    order = map_order(load("order.rest-resource.json"), {})

    assert order.external_id == "450789469"
    assert order.order_number == "#1001"
    assert order.placed_at == datetime(2008, 1, 10, 11, 0, tzinfo=EST)  # no processed_at: created_at
    assert order.currency == "USD"
    assert order.test is False
    assert order.financial_status == "authorized"

    assert order.customer is not None
    assert order.customer.external_id == "207119551"
    assert order.customer.name == "Bob Norman"
    assert order.customer.email == "bob.norman@hostmail.com"

    address = order.shipping_address
    assert address is not None
    assert (address.name, address.company, address.line1, address.line2) == (
        "Bob Norman", None, "Chestnut Street 92", None,
    )
    assert (address.city, address.region, address.postal_code, address.country) == ("Louisville", "KY", "40202", "US")
    assert address.phone == "555-625-1199"

    assert [(i.external_id, i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.line_items] == [
        ("466157049", "IPOD2008GREEN", "IPod Nano - 8gb - green", 1, 19900, 19900),
        ("518995019", "IPOD2008RED", "IPod Nano - 8gb - red", 1, 19900, 19900),
        ("703073504", "IPOD2008BLACK", "IPod Nano - 8gb - black", 1, 19900, 19900),
    ]
    assert order.subtotal == 39800
    assert order.shipping_total == 0  # shipping_lines[0].price "0.00"
    assert order.tax_total == 1194
    assert order.discount_total == 0
    assert order.total == 40994


def test_webhook_body_and_rest_wrapper_map_the_same() -> None:
    wrapped = load("order.rest-resource.json")
    assert map_order(wrapped["order"], {}) == map_order(wrapped, {})


def test_line_discount_allocations_reduce_the_line_total() -> None:
    payload = load("orders-create.test-notification.json")
    payload["line_items"][0]["quantity"] = 2
    payload["line_items"][0]["discount_allocations"] = [{"amount": "10.00"}, {"amount": "5.50"}]
    item = map_order(payload, {}).line_items[0]
    assert (item.quantity, item.unit_price, item.total) == (2, 8999, 2 * 8999 - 1550)


def test_order_without_shipping_address_or_customer() -> None:
    payload = load("orders-create.test-notification.json")
    del payload["shipping_address"]
    payload["customer"] = None
    order = map_order(payload, {})
    assert order.shipping_address is None
    assert order.customer is not None and order.customer.email == "jon@example.com"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total_price": "12.345", "currency": "EUR"}, "total_price.*more decimals than EUR"),
        ({"total_price": 359.97}, "total_price.*float"),
        ({"total_price": None}, "total_price is missing"),
        ({"currency": "XYZ"}, "not an ISO 4217"),
        ({"currency": None}, "currency.*missing"),
        ({"id": 8.209829119461545e17}, "not a float"),
        ({"id": ""}, "id is empty"),
        ({"test": "yes"}, "test must be"),
        ({"line_items": {"not": "a list"}}, "line_items must be a list"),
        ({"created_at": "31/12/2021", "processed_at": None}, "ISO 8601"),
    ],
)
def test_malformed_order_is_a_payload_error(change: dict[str, Any], message: str) -> None:
    payload = load("orders-create.test-notification.json")
    payload.update(change)
    with pytest.raises(PayloadError, match=message):
        map_order(payload, {})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", "89.999", "line_items\\[0\\].price"),
        ("price", "free", "not a number"),
        ("quantity", "1.5", "not a whole number"),
        ("quantity", -1, "line_items.0.quantity"),
        ("name", None, "neither name nor title"),
    ],
)
def test_malformed_line_item_is_a_payload_error(field: str, value: Any, message: str) -> None:
    payload = load("orders-create.test-notification.json")
    payload["line_items"][0][field] = value
    if field == "name":
        payload["line_items"][0]["title"] = None
    with pytest.raises(PayloadError, match=message):
        map_order(payload, {})


def test_country_name_instead_of_code_is_a_payload_error() -> None:
    payload = copy.deepcopy(load("orders-create.test-notification.json"))
    payload["shipping_address"]["country_code"] = "United States"
    with pytest.raises(PayloadError, match="shipping_address.country_code"):
        map_order(payload, {})
