"""Amounts between our minor units (cents, öre) and the decimal amounts carriers' APIs take.

The number of minor units of a currency is its ISO 4217 exponent as CLDR gives it,
through Babel (`get_currency_precision`: 2 for EUR/USD/SEK, 0 for JPY, 3 for KWD).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision


def minor_to_amount(minor: int, currency: str) -> float:
    """An amount in minor units of `currency` as a decimal amount (1999 USD cents -> 19.99)."""
    return round(minor / 10 ** get_currency_precision(currency), 6)


def amount_to_minor(amount: float, currency: str) -> int:
    """A decimal amount of `currency` in its minor units, rounded half up (19.995 USD -> 2000)."""
    scaled = Decimal(str(amount)) * (10 ** get_currency_precision(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
