"""Cross-source mapper tests: registry, sample coverage, shared error behaviour, money/quantity readers.

Per-platform field-by-field checks against the saved platform samples live in
tests/pos/test_mapper_<source>.py. These tests are pure: no database, no HTTP.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import get_currency_precision
from hypothesis import given
from hypothesis import strategies as st

from app.pos.canonical import CanonicalOrder, PayloadError, to_minor_units
from app.pos.sources import MAPPERS, UnknownSource, get_mapper, known_sources
from app.pos.sources._fields import country_code, currency_code, quantity, timestamp

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "pos-samples"

# Every JSON sample, and whether it is an order (mapped field by field in
# test_mapper_<source>.py) or a non-order that must be refused with PayloadError.
ORDER_SAMPLES = {
    "shopify/orders-create.test-notification.json": "shopify",
    "shopify/order.rest-resource.json": "shopify",
    "woocommerce/order.wp-api-v3.json": "woocommerce",
    "square/retrieve-order.response.json": "square",
    "square/create-order.response.json": "square",
    "zettle/purchase-created.webhook.json": "zettle",
    "zettle/purchase.v2.json": "zettle",
    "lightspeed/r-series.sale.single-line.json": "lightspeed",
    "lightspeed/r-series.sale.multi-line.json": "lightspeed",
}
NON_ORDER_SAMPLES = {
    "square/order.created.event.json": ("square", "RetrieveOrder"),
    "square/order.updated.event.json": ("square", "RetrieveOrder"),
    "square/order.fulfillment.updated.event.json": ("square", "RetrieveOrder"),
    "square/payment.created.event.json": ("square", "03O3USaPaAaFnI6kkwB1JxGgBsUZY"),
    "zettle/test-message.webhook.json": ("zettle", "TestMessage"),
}
HEADERS: dict[str, dict[str, str]] = {"lightspeed": {"x-pos-currency": "USD"}}


def load(name: str) -> Any:
    """A sample from ../shared/pos-samples (skips the test when the folder is absent)."""
    if not SAMPLES.is_dir():
        pytest.skip(f"POS samples folder {SAMPLES} is missing (expected ../shared/pos-samples beside the repo)")
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


# --- registry ---------------------------------------------------------------


def test_known_sources_are_sorted_and_complete() -> None:
    assert known_sources() == ["generic", "lightspeed", "shopify", "square", "woocommerce", "zettle"]
    assert set(MAPPERS) == set(known_sources())


def test_get_mapper_returns_the_module_function() -> None:
    from app.pos.sources import shopify

    assert get_mapper("shopify") is shopify.map_order


@pytest.mark.parametrize("name", ["magento", "Shopify", ""])
def test_get_mapper_unknown_source(name: str) -> None:
    with pytest.raises(UnknownSource) as info:
        get_mapper(name)
    assert info.value.source == name
    assert info.value.known == known_sources()
    assert "woocommerce" in str(info.value)


# --- every sample is covered -------------------------------------------------


def test_every_sample_file_is_classified() -> None:
    """A new sample in ../shared/pos-samples must get a field-by-field test before it counts as covered."""
    load("shopify/order.rest-resource.json")  # skips when the folder is missing
    found = {str(path.relative_to(SAMPLES)) for path in SAMPLES.rglob("*.json")}
    assert found == set(ORDER_SAMPLES) | set(NON_ORDER_SAMPLES)


@pytest.mark.parametrize(("name", "source"), sorted(ORDER_SAMPLES.items()))
def test_every_order_sample_maps(name: str, source: str) -> None:
    order = get_mapper(source)(load(name), HEADERS.get(source, {}))
    assert order.external_id
    assert order.line_items
    assert order.placed_at is not None and order.placed_at.utcoffset() is not None


@pytest.mark.parametrize(("name", "expected"), sorted(NON_ORDER_SAMPLES.items()))
def test_non_order_samples_are_refused(name: str, expected: tuple[str, str]) -> None:
    source, hint = expected
    with pytest.raises(PayloadError, match=hint):
        get_mapper(source)(load(name), {})


# --- shared structural errors ------------------------------------------------


@pytest.mark.parametrize("source", sorted(MAPPERS))
@pytest.mark.parametrize("payload", [None, [], ["order"], "order", 42, 1.5, True])
def test_non_object_payload_is_a_payload_error(source: str, payload: Any) -> None:
    with pytest.raises(PayloadError):
        get_mapper(source)(payload, {"x-pos-currency": "USD"})


@pytest.mark.parametrize("source", sorted(MAPPERS))
def test_empty_object_is_a_payload_error(source: str) -> None:
    with pytest.raises(PayloadError):
        get_mapper(source)({}, {"x-pos-currency": "USD"})


@pytest.mark.parametrize(
    ("name", "source", "path"),
    [
        ("shopify/orders-create.test-notification.json", "shopify", ["id"]),
        ("shopify/order.rest-resource.json", "shopify", ["order", "id"]),
        ("woocommerce/order.wp-api-v3.json", "woocommerce", ["id"]),
        ("square/retrieve-order.response.json", "square", ["order", "id"]),
        ("zettle/purchase.v2.json", "zettle", ["purchaseUUID1"]),
        ("lightspeed/r-series.sale.single-line.json", "lightspeed", ["Sale", "saleID"]),
    ],
)
def test_missing_id_is_a_payload_error(name: str, source: str, path: list[str]) -> None:
    payload = load(name)
    holder = payload
    for key in path[:-1]:
        holder = holder[key]
    del holder[path[-1]]
    if source == "zettle":
        del payload["purchaseUUID"]  # the v2 object carries the id twice
    with pytest.raises(PayloadError, match="missing"):
        get_mapper(source)(payload, HEADERS.get(source, {}))


# --- readers -----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "US", "DOLLAR", "XYZ", "12A", 840, None])
def test_currency_code_refuses_non_iso_codes(bad: Any) -> None:
    with pytest.raises(PayloadError):
        currency_code(bad, "currency")


def test_currency_code_upper_cases() -> None:
    assert currency_code(" sek ", "currency") == "SEK"


@pytest.mark.parametrize("bad", ["United States", "USA", "U", "ZZ", "EU", "12"])
def test_country_code_refuses_names_and_placeholders(bad: str) -> None:
    with pytest.raises(PayloadError, match="alpha-2"):
        country_code(bad, "country")


def test_country_code_upper_cases_and_allows_empty() -> None:
    assert country_code("se", "country") == "SE"
    assert country_code("", "country") is None


@pytest.mark.parametrize(("raw", "expected"), [(2, 2), ("2", 2), ("2.000", 2), (" 10 ", 10), ("0", 0)])
def test_quantity_accepts_whole_numbers(raw: Any, expected: int) -> None:
    assert quantity(raw, "quantity") == expected


@pytest.mark.parametrize("raw", ["1.5", "0.25", 1.0, True, "two", "", None, [1]])
def test_quantity_refuses_fractions_and_non_numbers(raw: Any) -> None:
    with pytest.raises(PayloadError):
        quantity(raw, "quantity")


def test_timestamp_accepts_zettle_offset_and_epoch_millis() -> None:
    assert timestamp("2021-04-19T13:09:40.798+0000", "t").isoformat() == "2021-04-19T13:09:40.798000+00:00"
    assert timestamp(1618837780798, "t").isoformat() == "2021-04-19T13:09:40.798000+00:00"


def test_timestamp_refuses_naive_and_garbage() -> None:
    with pytest.raises(PayloadError, match="no UTC offset"):
        timestamp("2017-03-22T16:28:02", "t")
    with pytest.raises(PayloadError, match="ISO 8601"):
        timestamp("yesterday", "t")


@pytest.mark.parametrize(("amount", "currency"), [("12.345", "EUR"), ("1.5", "JPY"), ("0.0001", "KWD")])
def test_to_minor_units_refuses_extra_decimals(amount: str, currency: str) -> None:
    with pytest.raises(PayloadError, match="decimals"):
        to_minor_units(amount, currency)


@pytest.mark.parametrize("amount", [12.5, "abc", "NaN", "Infinity", ""])
def test_to_minor_units_refuses_floats_and_non_numbers(amount: Any) -> None:
    with pytest.raises(PayloadError):
        to_minor_units(amount, "EUR")


@given(
    minor=st.integers(min_value=-(10**12), max_value=10**12),
    currency=st.sampled_from(["EUR", "USD", "SEK", "GBP", "JPY", "KRW", "KWD", "BHD", "CLF"]),
)
def test_to_minor_units_round_trips_decimal_text(minor: int, currency: str) -> None:
    exponent = get_currency_precision(currency)
    major = Decimal(minor).scaleb(-exponent)
    assert to_minor_units(f"{major:f}", currency) == minor
    assert to_minor_units(major, currency) == minor


@given(minor=st.integers(min_value=0, max_value=10**9), extra=st.integers(min_value=1, max_value=9))
def test_to_minor_units_refuses_one_digit_too_many(minor: int, extra: int) -> None:
    with pytest.raises(PayloadError):
        to_minor_units(f"{Decimal(minor).scaleb(-2):f}{extra}", "EUR")


# --- robustness: only PayloadError ever escapes a mapper ----------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    result = json.loads(json.dumps(value))
    holder = result
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = new
    return result


@pytest.mark.parametrize("source", sorted(MAPPERS))
@given(payload=JSON_VALUES)
def test_arbitrary_json_only_raises_payload_error(source: str, payload: Any) -> None:
    try:
        order = get_mapper(source)(payload, {"x-pos-currency": "USD"})
    except PayloadError as exc:
        assert str(exc), "a PayloadError says what is wrong"
    else:
        assert isinstance(order, CanonicalOrder)


@pytest.mark.parametrize(("name", "source"), sorted(ORDER_SAMPLES.items()))
@given(data=st.data())
def test_mutated_samples_only_raise_payload_error(name: str, source: str, data: st.DataObject) -> None:
    sample = load(name)
    if source == "zettle" and isinstance(sample.get("payload"), str):
        sample = json.loads(sample["payload"])  # mutate the purchase inside the envelope string
    path = data.draw(st.sampled_from(_paths(sample)), label="path")
    mutated = _replace(sample, path, data.draw(JSON_VALUES, label="value"))
    try:
        order = get_mapper(source)(mutated, HEADERS.get(source, {}))
    except PayloadError as exc:
        assert str(exc), "a PayloadError says what is wrong"
    else:
        assert isinstance(order, CanonicalOrder)


@pytest.mark.parametrize("amount", ["1E+999999", "NaN", "Infinity", "abc", "1e20"])
def test_to_minor_units_rejects_unusable_numbers_with_payload_error(amount):
    with pytest.raises(PayloadError):
        to_minor_units(amount, "EUR")


def test_to_minor_units_rejects_bad_currency_with_payload_error():
    with pytest.raises(PayloadError):
        to_minor_units("1.00", "EURO")
