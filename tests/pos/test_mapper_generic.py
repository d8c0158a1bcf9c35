"""The `generic` source: our own canonical order JSON (no platform sample; the schema is ours)."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

import pytest

from app.pos.canonical import PayloadError
from app.pos.sources.generic import map_order

VALID: dict[str, Any] = {
    "external_id": "A-1001",
    "order_number": "#1001",
    "placed_at": "2024-05-01T10:15:00+02:00",
    "currency": "sek",
    "customer": {"external_id": "c-7", "name": "Sara Johansson", "email": "sara@example.se"},
    "shipping_address": {
        "name": "Sara Johansson", "line1": "Storgatan 1", "city": "Kiruna",
        "postal_code": "981 31", "country": "se",
    },
    "line_items": [
        {"external_id": "l-1", "sku": "HC-60", "name": "Haircut", "quantity": 1, "unit_price": 70000, "total": 70000},
    ],
    "shipping_total": 0,
    "tax_total": 14000,
    "total": 70000,
    "test": True,
}


def body(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(VALID)
    result.update(changes)
    return result


def test_valid_body_maps_field_by_field() -> None:
    order = map_order(body(), {})
    assert order.external_id == "A-1001"
    assert order.order_number == "#1001"
    assert order.placed_at == datetime(2024, 5, 1, 8, 15, tzinfo=timezone.utc)
    assert order.currency == "SEK"
    assert order.customer is not None and order.customer.email == "sara@example.se"
    assert order.shipping_address is not None and order.shipping_address.country == "SE"
    item = order.line_items[0]
    assert (item.external_id, item.sku, item.name, item.quantity, item.unit_price, item.total) == (
        "l-1", "HC-60", "Haircut", 1, 70000, 70000,
    )
    assert (order.subtotal, order.shipping_total, order.tax_total, order.discount_total, order.total) == (
        None, 0, 14000, None, 70000,
    )
    assert order.test is True


def test_integer_external_id_is_kept_exactly() -> None:
    assert map_order(body(external_id=820982911946154508), {}).external_id == "820982911946154508"


def test_validation_errors_list_every_field_location() -> None:
    bad = body(line_items=[{"name": "Haircut", "quantity": -1, "unit_price": 70000, "total": 70000}])
    del bad["external_id"]
    with pytest.raises(PayloadError) as info:
        map_order(bad, {})
    message = str(info.value)
    assert "external_id: Field required" in message
    assert "line_items.0.quantity:" in message


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(PayloadError, match="total_price: Extra inputs are not permitted"):
        map_order(body(total_price=70000), {})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"total": 700.0}, "total must be an integer in minor units"),
        ({"total": "700.00"}, "total must be an integer in minor units"),
        ({"total": None}, "total: Input should be a valid integer"),
        ({"tax_total": True}, "tax_total must be an integer"),
        ({"currency": "XYZ"}, "not an ISO 4217"),
        ({"currency": "kronor"}, "currency:"),
        ({"placed_at": "yesterday"}, "placed_at:"),
    ],
)
def test_bad_values_are_payload_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        map_order(body(**changes), {})


def test_float_line_price_is_a_payload_error() -> None:
    bad = body()
    bad["line_items"][0]["unit_price"] = 700.0
    with pytest.raises(PayloadError, match=r"line_items.0.unit_price must be an integer in minor units"):
        map_order(bad, {})


def test_unknown_country_is_a_payload_error() -> None:
    bad = body()
    bad["shipping_address"]["country"] = "ZZ"
    with pytest.raises(PayloadError, match="alpha-2"):
        map_order(bad, {})
