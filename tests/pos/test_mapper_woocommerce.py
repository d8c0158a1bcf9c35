"""WooCommerce mapper against the official wc/v3 order sample (../shared/pos-samples/woocommerce).

Expected values are copied from the sample file.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from app.pos.canonical import PayloadError
from app.pos.sources.woocommerce import map_order

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "pos-samples"


def load() -> Any:
    if not SAMPLES.is_dir():
        pytest.skip(f"POS samples folder {SAMPLES} is missing (expected ../shared/pos-samples beside the repo)")
    return json.loads((SAMPLES / "woocommerce" / "order.wp-api-v3.json").read_text(encoding="utf-8"))


def test_wc_v3_order_field_by_field() -> None:
    order = map_order(load(), {})

    assert order.external_id == "727"
    assert order.order_number == "727"
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=timezone.utc)  # date_created_gmt
    assert order.currency == "USD"
    assert order.test is False
    assert order.financial_status is None  # `status: processing` is a workflow state, not a payment state

    assert order.customer is not None
    assert order.customer.external_id is None  # customer_id 0: guest checkout
    assert order.customer.name == "John Doe"
    assert order.customer.email == "john.doe@example.com"
    assert order.customer.phone == "(555) 555-5555"

    address = order.shipping_address
    assert address is not None
    assert (address.name, address.company, address.line1, address.line2) == ("John Doe", None, "969 Market", None)
    assert (address.city, address.region, address.postal_code, address.country) == (
        "San Francisco", "CA", "94103", "US",
    )
    # Only billing has phone and email in this sample.
    assert (address.phone, address.email) == ("(555) 555-5555", "john.doe@example.com")

    assert [(i.external_id, i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.line_items] == [
        ("315", None, "Woo Single #1", 2, 300, 600),
        # "&ndash;" in the stored name is HTML-unescaped.
        ("316", "Bar3", "Ship Your Idea \u2013 Color: Black, Size: M Test", 1, 1200, 1200),
    ]
    assert order.subtotal is None
    assert order.shipping_total == 1000
    assert order.tax_total == 135
    assert order.discount_total == 0
    assert order.total == 2935


def test_ping_is_refused_as_a_ping() -> None:
    with pytest.raises(PayloadError, match="ping"):
        map_order({"webhook_id": "12"}, {})


def test_legacy_v3_wrapper_is_refused_with_a_fix() -> None:
    with pytest.raises(PayloadError, match="WP REST API Integration v3"):
        map_order({"order": {"id": 727, "order_number": "727"}}, {})


def test_unit_price_is_the_pre_coupon_subtotal_per_unit() -> None:
    payload = load()
    line = payload["line_items"][0]
    line.update(quantity=3, subtotal="10.00", total="9.00", price=3.0)
    item = map_order(payload, {}).line_items[0]
    assert (item.quantity, item.unit_price, item.total) == (3, 333, 900)


def test_empty_shipping_block_means_no_address() -> None:
    payload = load()
    payload["shipping"] = {key: "" for key in payload["shipping"]}
    assert map_order(payload, {}).shipping_address is None


def test_missing_gmt_date_with_local_naive_date_leaves_placed_at_empty() -> None:
    payload = load()
    del payload["date_created_gmt"]
    assert map_order(payload, {}).placed_at is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total": "12.345", "currency": "EUR"}, "total.*more decimals than EUR"),
        ({"total": 29.35}, "float"),
        ({"currency": "US$"}, "not an ISO 4217"),
        ({"currency": ""}, "currency.*missing"),
        ({"id": None}, "id is missing"),
        ({"shipping": "969 Market"}, "shipping must be a JSON object"),
        ({"line_items": None, "shipping_total": "ten"}, "shipping_total.*not a number"),
    ],
)
def test_malformed_order_is_a_payload_error(change: dict[str, Any], message: str) -> None:
    payload = load()
    payload.update(change)
    with pytest.raises(PayloadError, match=message):
        map_order(payload, {})


def test_country_name_is_a_payload_error() -> None:
    payload = load()
    payload["shipping"]["country"] = "United States"
    with pytest.raises(PayloadError, match="shipping.country"):
        map_order(payload, {})


def test_malformed_line_item_is_a_payload_error() -> None:
    payload = load()
    payload["line_items"][1]["total"] = "12.001"
    with pytest.raises(PayloadError, match=r"line_items\[1\].total"):
        map_order(payload, {})
