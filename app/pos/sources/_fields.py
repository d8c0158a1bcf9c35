"""Strict readers that turn raw POS payload values into canonical values.

Every POS mapper reads untrusted JSON. These readers accept only the shapes a
platform actually sends and raise `PayloadError` naming the offending field
(e.g. ``line_items[1].price``) for anything else, so no KeyError/TypeError
ever escapes a mapper.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any

from babel import Locale
from babel.numbers import get_currency_precision, list_currencies
from pydantic import ValidationError

from app.pos.canonical import CanonicalOrder, PayloadError, to_minor_units

# Far beyond any real order, small enough that Decimal arithmetic cannot overflow.
_MAX_AMOUNT = Decimal(10) ** 30
_MAX_QUANTITY = Decimal(10) ** 12
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def shown(value: Any) -> str:
    """`repr(value)` cut to 60 characters: error messages go back to the caller (422 detail)."""
    rendered = repr(value)
    return rendered if len(rendered) <= 60 else rendered[:57] + "..."


@cache
def _iso_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


# CLDR territory codes that are groupings or placeholders, not places a parcel can go to.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


@cache
def _iso_countries() -> frozenset[str]:
    # Babel's territory list also holds UN M49 region numbers ("001"); keep the alpha-2 codes.
    return frozenset(
        code for code in Locale("en").territories
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )


def require_dict(value: Any, field: str) -> dict[str, Any]:
    """Return `value` if it is a JSON object, else raise PayloadError."""
    if not isinstance(value, dict):
        raise PayloadError(f"{field} must be a JSON object, got {type(value).__name__}")
    return value


def optional_dict(value: Any, field: str) -> dict[str, Any] | None:
    """Like `require_dict`, but None (JSON null or absent) is allowed."""
    return None if value is None else require_dict(value, field)


def as_list(value: Any, field: str) -> list[Any]:
    """A JSON array as a list; None -> []; anything else raises PayloadError."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{field} must be a list, got {type(value).__name__}")
    return value


def one_or_many(value: Any, field: str) -> list[Any]:
    """Like `as_list`, but a lone object is a one-entry list (Lightspeed's one-line SaleLine)."""
    if isinstance(value, dict):
        return [value]
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{field} must be a list or an object, got {type(value).__name__}")
    return value


def text(value: Any, field: str) -> str | None:
    """A trimmed string; None/"" -> None; ints become their decimal text; other types are refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PayloadError(f"{field} must be text, got {type(value).__name__}")
    result = str(value).strip()
    return result or None


def require_id(value: Any, field: str) -> str:
    """An external id as a string. JSON integers are kept exactly (Shopify ids exceed 2**53); floats are refused."""
    if value is None:
        raise PayloadError(f"{field} is missing")
    if isinstance(value, float):
        raise PayloadError(f"{field} must be an integer or string, not a float (large ids lose digits as floats)")
    result = text(value, field)
    if result is None:
        raise PayloadError(f"{field} is empty")
    return result


def currency_code(value: Any, field: str) -> str:
    """An ISO 4217 code, upper-cased ("usd" -> "USD"); missing or unknown codes raise PayloadError."""
    raw = text(value, field)
    if raw is None:
        raise PayloadError(f"{field} (ISO 4217 currency code) is missing")
    code = raw.upper()
    if code not in _iso_currencies():
        raise PayloadError(f"{field} {shown(raw)} is not an ISO 4217 currency code")
    return code


def country_code(value: Any, field: str) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased; None/"" -> None; names or unknown codes raise PayloadError."""
    raw = text(value, field)
    if raw is None:
        return None
    code = raw.upper()
    if code not in _iso_countries():
        raise PayloadError(f"{field} {shown(raw)} is not an ISO 3166-1 alpha-2 country code")
    return code


def money(value: Any, currency: str, field: str) -> int:
    """A decimal amount in major units ("19.99", or an int) -> integer minor units of `currency`.

    Raises PayloadError when missing, a float, not a number, or more precise than the currency.
    """
    if value is None:
        raise PayloadError(f"{field} is missing")
    if isinstance(value, str) and len(value) > 64:
        raise PayloadError(f"{field}: {shown(value)} is not an amount")
    try:
        return to_minor_units(value, currency)
    except PayloadError as exc:
        raise PayloadError(f"{field}: {exc}") from None
    except ArithmeticError:  # decimal.Overflow for absurd exponents such as "1E+999999"
        raise PayloadError(f"{field}: {shown(value)} is out of range") from None


def optional_money(value: Any, currency: str, field: str) -> int | None:
    """Like `money`, but None/"" -> None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return money(value, currency, field)


def rounded_money(value: Any, currency: str, field: str) -> int:
    """A computed decimal amount (may carry extra digits, e.g. "2.6814") -> minor units, rounded half-up.

    Only for fields the platform documents as unrounded calculations; raises PayloadError if not a number.
    """
    if value is None:
        raise PayloadError(f"{field} is missing")
    if isinstance(value, (bool, float)) or not isinstance(value, (str, int)):
        raise PayloadError(f"{field} must be a decimal string, got {type(value).__name__}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{field}: {shown(value)} is not a number") from None
    if not amount.is_finite() or abs(amount) > _MAX_AMOUNT:
        raise PayloadError(f"{field}: {shown(value)} is not a finite number in range")
    return int(amount.scaleb(get_currency_precision(currency)).to_integral_value(rounding=ROUND_HALF_UP))


def minor_units(value: Any, field: str) -> int:
    """An amount already in integer minor units (Square `amount`, Zettle `unitPrice`); floats are refused."""
    if value is None:
        raise PayloadError(f"{field} is missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{field} must be an integer amount in minor units, got {shown(value)}")
    return value


def quantity(value: Any, field: str) -> int:
    """A quantity as int: JSON integers or integral strings ("2", "2.000"); fractions raise PayloadError."""
    if value is None:
        raise PayloadError(f"{field} is missing")
    if isinstance(value, bool):
        raise PayloadError(f"{field} must be a whole number, got {shown(value)}")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a whole number, got {type(value).__name__} {shown(value)}")
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise PayloadError(f"{field} {shown(value)} is not a number") from None
    if not number.is_finite() or abs(number) > _MAX_QUANTITY:
        raise PayloadError(f"{field} {shown(value)} is out of range")
    if number != number.to_integral_value():
        raise PayloadError(f"{field} {shown(value)} is not a whole number (fractional quantities are not supported)")
    return int(number)


def timestamp(value: Any, field: str, *, naive_is_utc: bool = False) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime; None/"" -> None.

    Accepts "Z", "+00:00" and "+0000" offsets. A value without offset raises
    PayloadError unless `naive_is_utc` (for fields the platform documents as GMT).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        # Epoch milliseconds (Zettle's webhook `timestamp`).
        try:
            return _EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            raise PayloadError(f"{field} {shown(value)} is out of range") from None
    raw = text(value, field)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(f"{field} {shown(raw)} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise PayloadError(f"{field} {shown(raw)} has no UTC offset")
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def join_text(*parts: str | None, sep: str = " ") -> str | None:
    """Join the non-empty parts ("Bob", "Norman" -> "Bob Norman"); all empty -> None."""
    joined = sep.join(part for part in parts if part)
    return joined or None


def describe_validation_error(exc: ValidationError) -> str:
    """One readable line per pydantic error: ``line_items.0.quantity: Input should be ...``."""
    problems = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "(body)"
        problems.append(f"{location}: {error['msg']}")
    return "invalid order: " + "; ".join(problems)


def build_order(source: str, **fields: Any) -> CanonicalOrder:
    """Construct a CanonicalOrder, turning model validation errors into PayloadError."""
    try:
        return CanonicalOrder(**fields)
    except ValidationError as exc:
        raise PayloadError(f"{source}: {describe_validation_error(exc)}") from None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header by lower-case name, trimmed; missing/blank -> None."""
    value = headers.get(name)
    return (value.strip() or None) if isinstance(value, str) else None
