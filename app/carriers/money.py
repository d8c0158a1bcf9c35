"""Amounts between our minor units (cents, öre) and the decimal amounts carriers' APIs take and give.

The number of minor units of a currency is its ISO 4217 exponent as CLDR gives it,
through Babel (`get_currency_precision`: 2 for EUR/USD/SEK, 0 for JPY, 3 for KWD).
Amounts read from a carrier go through `Decimal` on their decimal text, never
through binary floating point arithmetic.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision


def minor_to_amount(minor: int, currency: str) -> float:
    """An amount in minor units of `currency` as a decimal amount (1999 USD cents -> 19.99)."""
    return round(minor / 10 ** get_currency_precision(currency), 6)


def decimal_amount(value: Any) -> Decimal | None:
    """A carrier's monetary value as an exact Decimal, or None when it is not one.

    Takes a JSON number (int, float, Decimal; a float by its shortest decimal text,
    so 38.54 stays 38.54) or a decimal string ("321.03", " 7 ", "1.5E+2"). None for
    booleans, empty or non-numeric text, NaN and infinities.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def amount_to_minor(amount: Decimal | int | float | str, currency: str) -> int:
    """A decimal amount of `currency` in its minor units, rounded half up (19.995 USD -> 2000, "1500" JPY -> 1500).

    Raises ValueError for a value that is not a finite decimal amount (see `decimal_amount`).
    """
    exact = decimal_amount(amount)
    if exact is None:
        raise ValueError(f"not a monetary amount: {amount!r}")
    scaled = exact.scaleb(get_currency_precision(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
