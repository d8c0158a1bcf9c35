"""Carrier-neutral service points (pickup points, lockers, post offices) and address validation results.

An adapter's `find_service_points(query)` turns a `ServicePointQuery` into
the carrier's locator request and its reply into `ServicePoint`s;
`validate_address(address)` answers an `AddressValidation`. Distances are
metres, coordinates WGS 84 decimal degrees, opening hours local wall-clock
times of the point ("08:00", "21:30"; "24:00" for midnight at the end of a day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.carriers.shipping import Address, upper_country

ServicePointType = Literal["service_point", "locker", "post_office"]
"""`service_point`: a staffed shop or agent; `locker`: a parcel locker/Packstation; `post_office`: the carrier's own counter."""
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
AddressClassification = Literal["residential", "commercial", "unknown"]
MAX_SERVICE_POINTS = 50


class ServicePointQuery(BaseModel):
    """Where to look for pickup points: `GET /v1/service-points` without `carrier`."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    country: str = Field(description="ISO 3166-1 alpha-2.")
    postal_code: str = Field(min_length=1, max_length=20)
    street: str | None = Field(default=None, max_length=100, description="Street and house number, for nearer results.")
    city: str | None = Field(default=None, max_length=60)
    limit: int = Field(default=10, ge=1, le=MAX_SERVICE_POINTS)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        return upper_country(value)

    def cache_key(self) -> tuple[str, str, str, str, int]:
        """What identifies the query for the answer cache (case- and space-insensitive)."""
        return (
            self.country,
            "".join(self.postal_code.split()).upper(),
            " ".join((self.street or "").split()).casefold(),
            " ".join((self.city or "").split()).casefold(),
            self.limit,
        )


@dataclass(frozen=True)
class OpeningHours:
    """One opening interval: `day` (monday..sunday), `opens`/`closes` "HH:MM" local time of the point."""

    day: Weekday
    opens: str
    closes: str


@dataclass(frozen=True)
class ServicePointAddress:
    """The point's postal address."""

    address_lines: list[str]
    city: str | None
    postal_code: str | None
    country: str | None


@dataclass(frozen=True)
class ServicePoint:
    """One pickup point a carrier named. `id` is what `POST /v1/labels` takes as `service_point_id` for that carrier.

    `distance_m` is the carrier's distance from the searched address (None
    when it gives none); `raw` is the carrier's object, verbatim.
    """

    carrier: str
    id: str
    name: str
    type: ServicePointType
    address: ServicePointAddress
    latitude: float | None = None
    longitude: float | None = None
    distance_m: int | None = None
    opening_hours: list[OpeningHours] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class AddressValidation:
    """A carrier's verdict on an address.

    `valid`: the carrier knows the address as given (or with only
    normalizing changes); `candidates`: the carrier's normalized
    suggestions, best first; `messages`: the carrier's own words (code,
    message), verbatim.
    """

    valid: bool
    classification: AddressClassification
    candidates: list[Address]
    messages: list[dict[str, str | None]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
