"""The `generic` source: our own documented canonical order JSON.

The body is exactly `app.pos.canonical.CanonicalOrder` (see its field
descriptions and /openapi.json): money as integer minor units, currency ISO
4217, country ISO 3166-1 alpha-2, unknown fields rejected. This is the format
for merchants whose system has no mapper of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from app.pos.canonical import CanonicalOrder, PayloadError
from app.pos.sources._fields import (
    country_code,
    currency_code,
    describe_validation_error,
    require_dict,
    shown,
)

_ORDER_MONEY = ("subtotal", "shipping_total", "tax_total", "discount_total", "total")
_LINE_INTEGERS = ("quantity", "unit_price", "total")


def _refuse_non_integers(payload: dict[str, Any]) -> None:
    # Pydantic's lax mode would turn 19.0 or "19.00" into 19 minor units (0.19!) and
    # True into 1; a float or decimal string almost always means major units were sent.
    def check(value: Any, field: str) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise PayloadError(
                f"generic: {field} must be an integer in minor units (e.g. 1999 for 19.99), got {shown(value)}"
            )

    for name in _ORDER_MONEY:
        check(payload.get(name), name)
    items = payload.get("line_items")
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                for name in _LINE_INTEGERS:
                    check(item.get(name), f"line_items.{index}.{name}")


def map_order(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    """Validate a canonical order body (a JSON object shaped like CanonicalOrder).

    Money fields must be integer minor units of `currency`; `currency` must be a
    known ISO 4217 code and `shipping_address.country` a known alpha-2 code.
    `headers` is unused. Raises PayloadError listing every invalid field location
    (e.g. ``line_items.0.quantity: Input should be a valid integer``).
    """
    body = require_dict(payload, "generic: order body")
    _refuse_non_integers(body)
    try:
        order = CanonicalOrder.model_validate(body)
    except ValidationError as exc:
        raise PayloadError(f"generic: {describe_validation_error(exc)}") from None
    currency_code(order.currency, "generic: currency")
    if order.shipping_address is not None:
        country_code(order.shipping_address.country, "generic: shipping_address.country")
    return order
