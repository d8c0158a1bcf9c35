"""Square mapper against the Order examples of Square's OpenAPI spec (../shared/pos-samples/square).

Expected values are copied from the sample files. The thin webhook events are
refused (see test_mappers.py::test_non_order_samples_are_refused).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from app.pos.canonical import PayloadError
from app.pos.sources.square import map_order

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "pos-samples"


def load(name: str) -> Any:
    if not SAMPLES.is_dir():
        pytest.skip(f"POS samples folder {SAMPLES} is missing (expected ../shared/pos-samples beside the repo)")
    return json.loads((SAMPLES / "square" / name).read_text(encoding="utf-8"))


def test_retrieve_order_response_field_by_field() -> None:
    order = map_order(load("retrieve-order.response.json"), {})

    assert order.external_id == "CAISENgvlJ6jLWAzERDzjyHVybY"
    assert order.order_number is None  # no reference_id
    assert order.placed_at == datetime(2020, 5, 18, 16, 30, 49, 614000, tzinfo=timezone.utc)
    assert order.currency == "USD"
    assert order.customer is None
    assert order.shipping_address is None  # no fulfillments
    assert order.financial_status is None
    assert [(i.external_id, i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.line_items] == [
        ("ULkg0tQTRK2bkU9fNv3IJD", None, "Item 1", 1, 500, 250),
        ("mumY8Nun4BC5aKe2yyx5a", None, "Item 2", 2, 300, 300),
    ]
    assert (order.subtotal, order.shipping_total) == (None, None)
    assert order.tax_total == 0
    assert order.discount_total == 550
    assert order.total == 550


def test_create_order_response_field_by_field() -> None:
    order = map_order(load("create-order.response.json"), {})

    assert order.external_id == "CAISENgvlJ6jLWAzERDzjyHVybY"
    assert order.order_number == "my-order-001"
    assert order.placed_at == datetime(2020, 1, 17, 20, 47, 53, 293000, tzinfo=timezone.utc)
    assert order.currency == "USD"
    assert [(i.external_id, i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.line_items] == [
        ("8uSwfzvUImn3IRrvciqlXC", None, "New York Strip Steak", 1, 1599, 1648),
        # base_price_money 2200 (the "Well" modifier is extra); total_money includes tax 374 and discount 346.
        ("v8ZuEXpOJpb0bazLuvrLDB", None, "New York Steak - Larger", 2, 2200, 4528),
    ]
    assert order.tax_total == 510
    assert order.discount_total == 433
    assert order.total == 6176


def test_bare_order_object_maps_like_the_response() -> None:
    response = load("create-order.response.json")
    assert map_order(response["order"], {}) == map_order(response, {})


def test_shipment_fulfillment_recipient_becomes_the_address() -> None:
    # Constructed from the Order schema (FulfillmentShipmentDetails.recipient): no official
    # example with a SHIPMENT fulfillment exists (see pos-samples/README.md "Gaps").
    payload = load("retrieve-order.response.json")
    payload["order"]["customer_id"] = "JDKYHBWT1D4F8MFH63DBMEN8Y4"
    payload["order"]["fulfillments"] = [
        {"uid": "p1", "type": "PICKUP", "pickup_details": {"recipient": {"display_name": "Not Me"}}},
        {
            "uid": "s1",
            "type": "SHIPMENT",
            "shipment_details": {
                "recipient": {
                    "display_name": "Jaiden Urie",
                    "email_address": "jaiden@example.com",
                    "phone_number": "+1 555 0100",
                    "address": {
                        "address_line_1": "1955 Broadway",
                        "address_line_2": "Suite 600",
                        "locality": "Oakland",
                        "administrative_district_level_1": "CA",
                        "postal_code": "94612",
                        "country": "US",
                    },
                }
            },
        },
    ]
    order = map_order(payload, {})
    assert order.customer is not None and order.customer.external_id == "JDKYHBWT1D4F8MFH63DBMEN8Y4"
    address = order.shipping_address
    assert address is not None
    assert address.model_dump() == {
        "name": "Jaiden Urie", "company": None, "line1": "1955 Broadway", "line2": "Suite 600",
        "city": "Oakland", "region": "CA", "postal_code": "94612", "country": "US",
        "phone": "+1 555 0100", "email": "jaiden@example.com",
    }


@pytest.mark.parametrize(("raw", "expected"), [("3", 3), ("3.000", 3)])
def test_integral_decimal_quantities_are_accepted(raw: str, expected: int) -> None:
    payload = load("retrieve-order.response.json")
    payload["order"]["line_items"][0]["quantity"] = raw
    assert map_order(payload, {}).line_items[0].quantity == expected


def test_fractional_quantity_is_a_payload_error() -> None:
    payload = load("retrieve-order.response.json")
    payload["order"]["line_items"][0]["quantity"] = "1.5"  # e.g. a weighed item
    with pytest.raises(PayloadError, match=r"line_items\[0\].quantity.*not a whole number"):
        map_order(payload, {})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda o: o.update(total_money={"amount": 550, "currency": "DOLLARS"}), "not an ISO 4217"),
        (lambda o: o.update(total_money={"amount": 5.5, "currency": "USD"}), "integer amount in minor units"),
        (lambda o: o.update(total_money={"amount": "550", "currency": "USD"}), "integer amount in minor units"),
        (lambda o: o.pop("total_money"), "total_money is missing"),
        (lambda o: o["line_items"][1].update(total_money={"amount": 300, "currency": "EUR"}), "in EUR.*USD"),
        (lambda o: o["line_items"][0].pop("base_price_money"), "base_price_money is missing"),
        (lambda o: o.update(created_at="2020-05-18 16:30"), "no UTC offset"),
        (lambda o: o.update(id=12.0), "not a float"),
    ],
)
def test_malformed_order_is_a_payload_error(mutate: Any, message: str) -> None:
    payload = load("retrieve-order.response.json")
    mutate(payload["order"])
    with pytest.raises(PayloadError, match=message):
        map_order(payload, {})
