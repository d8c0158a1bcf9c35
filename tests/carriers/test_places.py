"""Country names in place fields (`app.carriers.places`)."""

from __future__ import annotations

import pytest

from app.carriers.places import (
    ENGLISH,
    EVERY_TERRITORY,
    alpha2,
    city_unless_country,
    country_from_name,
    country_names,
    name_key,
    place_and_country,
    territory_names,
)

NORDIC = ("en", "nb", "sv", "da", "fi", "de")


def test_name_key() -> None:
    assert name_key("  United \t Kingdom ") == "united kingdom"


def test_territory_names_are_two_letter_codes_only() -> None:
    names = territory_names("de")
    assert names["DE"] == "Deutschland"
    assert all(len(code) == 2 and code.isalpha() for code in names)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Norge", "NO"), ("NORWAY", "NO"), (" sverige ", "SE"), ("Suomi", "FI"), ("Danmark", "DK"), ("Oslo", None),
     ("", None), (None, None), ("European Union", None), ("Unknown Region", None)],
)  # fmt: skip
def test_country_from_name(text: str | None, expected: str | None) -> None:
    assert country_from_name(text, NORDIC) == expected


def test_country_from_name_only_in_the_given_locales() -> None:
    assert country_from_name("Sverige", ENGLISH) is None
    assert country_from_name("Sweden", ENGLISH) == "SE"


def test_exclude_decides_which_territories_count() -> None:
    assert country_from_name("United Nations", ENGLISH, exclude=EVERY_TERRITORY) == "UN"
    assert "european union" not in country_names(ENGLISH)


def test_alpha2() -> None:
    assert alpha2(" se ") == "SE"
    assert alpha2("SWE") is None
    assert alpha2("1A") is None
    assert alpha2(None) is None


def test_city_unless_country() -> None:
    assert city_unless_country(" Hebron ", ENGLISH) == "Hebron"
    assert city_unless_country("UNITED STATES", ENGLISH) is None
    assert city_unless_country("  ", ENGLISH) is None
    # the record's own country fields are no city either, compared like names
    assert city_unless_country("US", ENGLISH, also=("US",)) is None
    assert city_unless_country("republic  of x", ENGLISH, also=(None, "Republic of X")) is None
    assert city_unless_country("Luxembourg", ENGLISH) is None  # a full country name, whatever the city-state
    assert city_unless_country("Paris", ENGLISH, also=("FR", "France")) == "Paris"


@pytest.mark.parametrize(
    ("city", "country", "country_name", "expected"),
    [
        ("Oslo", "NO", None, ("Oslo", "NO")),
        ("NORGE", None, None, (None, "NO")),  # a country name as city: dropped, taken as the country
        ("Sweden", "NO", None, (None, "NO")),  # the code wins over the name in the city field
        ("Bergen", None, "Norway", ("Bergen", "NO")),
        ("Sverige", None, "Norway", (None, "NO")),  # the country-name field wins over the city field
        (None, None, None, (None, None)),
    ],
)
def test_place_and_country(
    city: str | None, country: str | None, country_name: str | None, expected: tuple[str | None, str | None]
) -> None:
    assert place_and_country(city, country, country_name, NORDIC) == expected
