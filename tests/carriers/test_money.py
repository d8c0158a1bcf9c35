"""app.carriers.money: minor units <-> decimal amounts with the currency's ISO 4217 exponent (CLDR via Babel)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.carriers.money import amount_to_minor, decimal_amount, minor_to_amount


@pytest.mark.parametrize(
    ("minor", "currency", "amount"),
    [(1999, "USD", 19.99), (14950, "SEK", 149.5), (0, "EUR", 0.0), (1500, "JPY", 1500.0), (12345, "KWD", 12.345)],
)
def test_minor_to_amount_and_back(minor: int, currency: str, amount: float) -> None:
    assert minor_to_amount(minor, currency) == amount
    assert amount_to_minor(amount, currency) == minor


def test_amount_to_minor_rounds_half_up_on_the_decimal_text() -> None:
    assert amount_to_minor(19.995, "USD") == 2000  # 19.995 as float is 19.99499..., read as its text "19.995"
    assert amount_to_minor(2.675, "EUR") == 268
    assert amount_to_minor(0.5, "JPY") == 1


def test_amount_to_minor_is_exact_for_decimal_text_and_decimals() -> None:
    assert amount_to_minor("321.03", "CAD") == 32103
    assert amount_to_minor(Decimal("12345678901234567.89"), "USD") == 1234567890123456789  # beyond float precision
    assert amount_to_minor("1234.5", "JPY") == 1235  # JPY has no minor unit: half up to whole yen
    assert amount_to_minor("12.3456", "KWD") == 12346  # 3 decimals (fils)
    with pytest.raises(ValueError):
        amount_to_minor("N/A", "EUR")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(38.54, Decimal("38.54")), (7, Decimal(7)), (" 157.95 ", Decimal("157.95")), (Decimal("1.10"), Decimal("1.10")),
     (True, None), ("", None), ("NaN", None), ("Infinity", None), (None, None), ({"a": 1}, None)],
)
def test_decimal_amount(value: object, expected: Decimal | None) -> None:
    assert decimal_amount(value) == expected
