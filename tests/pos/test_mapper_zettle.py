"""Zettle mapper against Zettle's documented PurchaseCreated event and Purchase v2 object.

Expected values are copied from ../shared/pos-samples/zettle. The TestMessage is
refused (see test_mappers.py::test_non_order_samples_are_refused).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from app.pos.canonical import PayloadError
from app.pos.sources.zettle import map_order

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "pos-samples"


def load(name: str) -> Any:
    if not SAMPLES.is_dir():
        pytest.skip(f"POS samples folder {SAMPLES} is missing (expected ../shared/pos-samples beside the repo)")
    return json.loads((SAMPLES / "zettle" / name).read_text(encoding="utf-8"))


def test_purchase_created_webhook_field_by_field() -> None:
    envelope = load("purchase-created.webhook.json")
    assert isinstance(envelope["payload"], str)  # the purchase is a JSON string inside the JSON
    order = map_order(envelope, {})

    assert order.external_id == "7cdf4ae2-a110-11eb-a7f9-24cfef8c2970"
    assert order.order_number == "12776"
    assert order.placed_at == datetime(2021, 4, 19, 13, 9, 40, 798000, tzinfo=timezone.utc)
    assert order.currency == "GBP"
    assert order.customer is None
    assert order.shipping_address is None  # an in-store sale has no address
    assert order.test is False
    assert order.financial_status is None
    assert [(i.external_id, i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.line_items] == [
        ("0", "987", "testproduct", 2, 1200, 2400),
        ("1", "The Whiskey - Small", "Whiskey - 50 cm", 1, 32900, 32900),
    ]
    assert (order.subtotal, order.shipping_total, order.discount_total) == (None, None, None)
    assert order.tax_total == 3656
    assert order.total == 35300


def test_purchase_v2_field_by_field() -> None:
    order = map_order(load("purchase.v2.json"), {})

    assert order.external_id == "589c2de6-3ee4-11eb-9e70-a2ac075b17fd"  # purchaseUUID1
    assert order.order_number == "1366"
    assert order.placed_at == datetime(2020, 12, 15, 14, 46, 43, 592000, tzinfo=timezone.utc)
    assert order.currency == "SEK"
    assert order.customer is None
    assert order.shipping_address is None
    assert [(i.external_id, i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.line_items] == [
        ("0", None, "Haircut - 1 hour", 1, 70000, 70000),
    ]
    assert order.tax_total == 14000
    assert order.total == 70000


def test_base64url_purchase_uuid_alone_gives_the_same_id() -> None:
    payload = load("purchase.v2.json")
    del payload["purchaseUUID1"]
    assert payload["purchaseUUID"] == "WJwt5j7kEeuecKKsB1sX_Q"
    assert map_order(payload, {}).external_id == "589c2de6-3ee4-11eb-9e70-a2ac075b17fd"


def test_inner_webhook_purchase_maps_like_the_envelope() -> None:
    envelope = load("purchase-created.webhook.json")
    assert map_order(json.loads(envelope["payload"]), {}) == map_order(envelope, {})


def test_product_discount_value_reduces_the_line_total() -> None:
    # purchase.adoc "Purchases with discounts": discountValue is the line's discount in minor units.
    payload = load("purchase.v2.json")
    payload["products"][0].update(quantity="2", unitPrice=2000, discountValue=500)
    item = map_order(payload, {}).line_items[0]
    assert (item.quantity, item.unit_price, item.total) == (2, 2000, 3500)


def test_refund_purchase_is_refused() -> None:
    payload = load("purchase.v2.json")
    payload["refund"] = True
    with pytest.raises(PayloadError, match="refund"):
        map_order(payload, {})


def test_other_events_are_refused() -> None:
    envelope = load("purchase-created.webhook.json")
    envelope["eventName"] = "ProductCreated"
    with pytest.raises(PayloadError, match="only PurchaseCreated"):
        map_order(envelope, {})


def test_payload_string_that_is_not_json_is_a_payload_error() -> None:
    envelope = load("purchase-created.webhook.json")
    envelope["payload"] = envelope["payload"][:-1]
    with pytest.raises(PayloadError, match="not valid JSON"):
        map_order(envelope, {})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"currency": "ZZZ"}, "not an ISO 4217"),
        ({"currency": None}, "currency.*missing"),
        ({"amount": 700.00}, "integer amount in minor units"),
        ({"amount": "700.00"}, "integer amount in minor units"),
        ({"amount": None}, "amount is missing"),
        ({"purchaseUUID1": None, "purchaseUUID": "not base64!"}, "base64url"),
        ({"products": "Haircut"}, "products must be a list"),
    ],
)
def test_malformed_purchase_is_a_payload_error(change: dict[str, Any], message: str) -> None:
    payload = load("purchase.v2.json")
    payload.update(change)
    with pytest.raises(PayloadError, match=message):
        map_order(payload, {})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity", "0.5", "not a whole number"),
        ("quantity", "-1", "line_items.0.quantity"),  # a returned item: refund rows are not orders
        ("unitPrice", 700.0, "integer amount in minor units"),
    ],
)
def test_malformed_product_is_a_payload_error(field: str, value: Any, message: str) -> None:
    payload = load("purchase.v2.json")
    payload["products"][0][field] = value
    with pytest.raises(PayloadError, match=message):
        map_order(payload, {})
