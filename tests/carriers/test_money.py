"""app.carriers.money: minor units <-> decimal amounts with the currency's ISO 4217 exponent (CLDR via Babel)."""

from __future__ import annotations

import pytest

from app.carriers.money import amount_to_minor, minor_to_amount


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
