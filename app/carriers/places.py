"""Country names in carrier place fields: which text names a country, and the rule that a country is never a city.

Carriers write a country where the city goes (Bring "NORGE", PostNord
"Sverige", FedEx and UPS "UNITED STATES", DHL "Deutschland") and a country
name where the code goes. The names come from the Unicode CLDR territory
names shipped with babel; each carrier passes the languages it writes in
(`locales`, from its `units.py`). Matching ignores case and repeated
whitespace. Codes are ISO 3166-1 alpha-2.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from babel import Locale

from app.carriers.fields import text_of

ENGLISH: tuple[str, ...] = ("en",)
"""The locales of a carrier that writes English country names only (FedEx, UPS)."""
NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})
"""CLDR territory codes that are no country (unknown region, EU, eurozone, UN, outlying Oceania, pseudo-locales)."""
EVERY_TERRITORY: frozenset[str] = frozenset()
"""`exclude` for a carrier that takes every two-letter CLDR territory for a country (FedEx and UPS as built)."""


def name_key(text: str) -> str:
    """The form names are compared in: casefolded, whitespace runs as one space, no outer whitespace."""
    return " ".join(text.split()).casefold()


@cache
def territory_names(locale: str) -> dict[str, str]:
    """Alpha-2 code -> CLDR territory name in `locale` ("de": "DE" -> "Deutschland"); two-letter codes only.

    Raises babel's UnknownLocaleError for a locale CLDR does not have.
    """
    return {code: name for code, name in Locale.parse(locale).territories.items() if len(code) == 2 and code.isalpha()}


@cache
def country_names(locales: tuple[str, ...], exclude: frozenset[str] = NOT_COUNTRIES) -> dict[str, str]:
    """`name_key` of every country name in `locales` -> its alpha-2 code; where two codes share a name, the earlier locale wins.

    `exclude` lists the territory codes not taken as countries.
    """
    names: dict[str, str] = {}
    for locale in locales:
        for code, name in territory_names(locale).items():
            if code not in exclude:
                names.setdefault(name_key(name), code)
    return names


def country_from_name(value: Any, locales: tuple[str, ...], *, exclude: frozenset[str] = NOT_COUNTRIES) -> str | None:
    """Alpha-2 code of a country name in one of `locales` ("Norge", "NORWAY", "Sverige"), else None (also for None/blank)."""
    text = text_of(value)
    return country_names(locales, exclude).get(name_key(text)) if text else None


def alpha2(value: Any) -> str | None:
    """`value` as an upper-case two-letter code when it is two letters ("se" -> "SE"), else None."""
    code = (text_of(value) or "").upper()
    return code if len(code) == 2 and code.isalpha() else None


def city_unless_country(
    city: Any,
    locales: tuple[str, ...],
    *,
    exclude: frozenset[str] = NOT_COUNTRIES,
    also: Iterable[Any] = (),
) -> str | None:
    """`city` stripped, or None when it is blank, a country name in `locales`, or equal to one of `also`.

    `also` holds the record's own country fields (its code, its country
    name), compared like names; None/blank members are ignored.
    """
    place = text_of(city)
    if place is None or country_from_name(place, locales, exclude=exclude) is not None:
        return None
    own = {name_key(text) for text in map(text_of, also) if text}
    return None if name_key(place) in own else place


def place_and_country(
    city: Any, country: str | None, country_name: Any, locales: tuple[str, ...]
) -> tuple[str | None, str | None]:
    """`(city, alpha-2 country)` of a place whose city field may hold a country name.

    `country` is the alpha-2 code the carrier's code field gave (the caller
    reads its own code format), `country_name` its country-name field. A
    `city` that is a country name is no city: it is dropped and, when neither
    `country` nor `country_name` gives the country, taken as the country.
    """
    place = text_of(city)
    named_country = country_from_name(place, locales)
    if named_country is not None:
        place = None
    return place, country or country_from_name(country_name, locales) or named_country
