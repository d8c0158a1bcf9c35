"""Lightspeed R-Series mapper against recorded API responses (../shared/pos-samples/lightspeed).

Expected values are copied from the sample files. A Sale has no currency, so
the tests send it as the X-Pos-Currency header, as the caller must.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from app.pos.canonical import PayloadError
from app.pos.sources.lightspeed import map_order

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "pos-samples"
USD = {"x-pos-currency": "USD"}


def load(name: str) -> Any:
    if not SAMPLES.is_dir():
        pytest.skip(f"POS samples folder {SAMPLES} is missing (expected ../shared/pos-samples beside the repo)")
    return json.loads((SAMPLES / "lightspeed" / name).read_text(encoding="utf-8"))


def test_single_line_sale_field_by_field() -> None:
    payload = load("r-series.sale.single-line.json")
    assert isinstance(payload["Sale"]["SaleLines"]["SaleLine"], dict)  # one line: an object, not a list
    order = map_order(payload, USD)

    assert order.external_id == "121"
    assert order.order_number == "220000000121"  # ticketNumber
    assert order.placed_at == datetime(2016, 2, 13, 0, 49, 38, tzinfo=timezone.utc)  # timeStamp
    assert order.currency == "USD"
    assert order.customer is None  # customerID "0"
    assert order.shipping_address is None  # shipToID "0"
    assert [(i.external_id, i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.line_items] == [
        ("203", None, "Item 1", 2, 123, 246),  # no Item relation loaded: named by itemID
    ]
    assert order.subtotal == 246
    assert order.tax_total == 0
    assert order.discount_total == 0
    assert order.total == 246


def test_multi_line_sale_field_by_field() -> None:
    payload = load("r-series.sale.multi-line.json")
    assert isinstance(payload["Sale"]["SaleLines"]["SaleLine"], list)
    order = map_order(payload, USD)

    assert order.external_id == "1"
    assert order.order_number == "220000000001"
    assert order.placed_at == datetime(2016, 2, 13, 0, 49, 39, tzinfo=timezone.utc)
    assert order.currency == "USD"
    assert [(i.external_id, i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.line_items] == [
        ("12", None, "Item 1", 2, 123, 268),  # calcTotal "2.6814" (taxed line) rounded half-up
        ("13", None, "Item 1", 2, 123, 246),
        ("14", None, "Item 1", 1, 1, 1),
        ("15", None, "Item 1", 1, 1, 1),
        ("202", None, "Item 1", 1, 1, 1),
        ("205", None, "Item 1", 1, 1, 1),
    ]
    assert order.subtotal == 496  # calcSubtotal "4.96"
    assert order.tax_total == 22  # taxTotal "0.22"
    assert order.discount_total == 0
    assert order.total == 518  # total "5.18"
    assert sum(item.total for item in order.line_items) == order.total


def test_bare_sale_maps_like_the_api_response() -> None:
    payload = load("r-series.sale.multi-line.json")
    assert map_order(payload["Sale"], USD) == map_order(payload, USD)


def test_currency_header_is_required() -> None:
    with pytest.raises(PayloadError, match="X-Pos-Currency"):
        map_order(load("r-series.sale.single-line.json"), {})


@pytest.mark.parametrize("bad", ["EURO", "$", "XYZ"])
def test_bad_currency_header_is_a_payload_error(bad: str) -> None:
    with pytest.raises(PayloadError, match="ISO 4217"):
        map_order(load("r-series.sale.single-line.json"), {"x-pos-currency": bad})


def test_loaded_relations_give_names_skus_customer_and_ship_to() -> None:
    # Constructed from the R-Series API reference (Item, Customer, ShipTo.Contact relations):
    # no recorded sale with these relations exists (see pos-samples/README.md "Gaps").
    payload = load("r-series.sale.single-line.json")
    sale = payload["Sale"]
    sale["SaleLines"]["SaleLine"]["Item"] = {"itemID": "1", "description": "Kit Kraft glue", "customSku": "KK-GLUE"}
    sale["customerID"] = "7"
    sale["Customer"] = {
        "customerID": "7", "firstName": "Ada", "lastName": "Lovelace",
        "Contact": {"Emails": {"ContactEmail": {"address": "ada@example.com", "useType": "Primary"}}},
    }
    sale["shipToID"] = "3"
    sale["ShipTo"] = {
        "shipToID": "3", "firstName": "Ada", "lastName": "Lovelace", "company": "Analytical Engines",
        "Contact": {
            "Addresses": {"ContactAddress": {
                "address1": "12 St James's Square", "address2": "", "city": "London",
                "state": "", "zip": "SW1Y 4JH", "country": "United Kingdom", "countryCode": "GB",
            }},
            "Phones": {"ContactPhone": [{"number": "+44 20 7946 0000", "useType": "Home"}]},
            "Emails": "",
        },
    }
    order = map_order(payload, {"x-pos-currency": "GBP"})
    item = order.line_items[0]
    assert (item.name, item.sku) == ("Kit Kraft glue", "KK-GLUE")
    assert order.customer is not None
    assert order.customer.model_dump() == {
        "external_id": "7", "name": "Ada Lovelace", "email": "ada@example.com", "phone": None,
    }
    assert order.shipping_address is not None
    assert order.shipping_address.model_dump() == {
        "name": "Ada Lovelace", "company": "Analytical Engines", "line1": "12 St James's Square", "line2": None,
        "city": "London", "region": None, "postal_code": "SW1Y 4JH", "country": "GB",
        "phone": "+44 20 7946 0000", "email": None,
    }


def test_several_sales_in_one_body_are_refused() -> None:
    payload = load("r-series.sale.single-line.json")
    payload["Sale"] = [payload["Sale"], payload["Sale"]]
    with pytest.raises(PayloadError, match="one Sale per request"):
        map_order(payload, USD)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("unitQuantity", "1.5", "not a whole number"),
        ("unitQuantity", "-2", "line_items.0.quantity"),  # a return line
        ("unitPrice", "1.234", "unitPrice.*more decimals"),
        ("calcTotal", "lots", "calcTotal.*not a number"),
    ],
)
def test_malformed_sale_line_is_a_payload_error(field: str, value: str, message: str) -> None:
    payload = load("r-series.sale.single-line.json")
    payload["Sale"]["SaleLines"]["SaleLine"][field] = value
    with pytest.raises(PayloadError, match=message):
        map_order(payload, USD)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total": "12.345"}, "total.*more decimals"),
        ({"total": None}, "total is missing"),
        ({"saleID": 1.0}, "not a float"),
        ({"SaleLines": "203"}, "SaleLines must be a JSON object"),
    ],
)
def test_malformed_sale_is_a_payload_error(change: dict[str, Any], message: str) -> None:
    payload = load("r-series.sale.single-line.json")
    payload["Sale"].update(change)
    with pytest.raises(PayloadError, match=message):
        map_order(payload, {"x-pos-currency": "EUR"})
