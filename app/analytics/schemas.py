"""Request and response models of /v1/analytics, reviews, review links, /v1/rates and /v1/recommendations."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.carriers.shipping import Address, Parcel, ShipDate



class Aspects(BaseModel):
    """Ratings of a delivery's aspects, each 1-5 (any may be left out)."""

    model_config = ConfigDict(extra="forbid")

    speed: int | None = Field(default=None, ge=1, le=5)
    condition: int | None = Field(default=None, ge=1, le=5)
    communication: int | None = Field(default=None, ge=1, le=5)
    courier: int | None = Field(default=None, ge=1, le=5)


class ReviewCreate(BaseModel):
    """A review: `rating` 1-5, an optional `comment` (at most 2,000 characters), optional `aspects`. Nothing else."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)
    aspects: Aspects | None = None


class ReviewPatch(BaseModel):
    """An edit of the merchant's own review (`rating`, `comment`, `aspects`) and/or moderation (`hidden`, tenant admins)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rating: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)
    aspects: Aspects | None = None
    hidden: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> ReviewPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of rating, comment, aspects, hidden")
        if "rating" in self.model_fields_set and self.rating is None:
            raise ValueError("rating cannot be null")
        return self


class ReviewOut(BaseModel):
    """A stored review; `author_kind` is `merchant` or `recipient`; hidden reviews count in no aggregate."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    shipment_id: uuid.UUID
    author_kind: Literal["merchant", "recipient"]
    rating: int
    comment: str | None
    aspects: Aspects
    hidden: bool
    carrier: str
    service: str | None
    destination_country: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @model_validator(mode="before")
    @classmethod
    def _aspects(cls, value: Any) -> Any:
        if hasattr(value, "speed"):
            return {
                **{name: getattr(value, name) for name in (
                    "id", "shipment_id", "author_kind", "rating", "comment", "hidden", "carrier", "service",
                    "destination_country", "created_at", "updated_at")},
                "aspects": {name: getattr(value, name) for name in ("speed", "condition", "communication", "courier")},
            }
        return value


class ReviewLinkOut(BaseModel):
    """A recipient's review link: POST the review to `url` (no API key) before `expires_at`; it takes one review."""

    token: str
    url: str
    expires_at: dt.datetime


class GroupFigures(BaseModel):
    """One group's figures. Rates are fractions 0-1 (null: nothing to compute them from); hours are fractional."""

    key: dict[str, str | None] = Field(description="The group's value of each `group_by` dimension.")
    shipments: int
    delivered: int
    in_transit: int
    on_time_rate: float | None = Field(description="Delivered by the first promised delivery, among delivered shipments with a promise.")
    on_time_basis: int = Field(description="Delivered shipments with a promise (the on-time rate's denominator).")
    transit_hours_p50: float | None
    transit_hours_p90: float | None
    label_to_first_scan_hours_p50: float | None
    label_to_first_scan_hours_avg: float | None
    first_attempt_rate: float | None = Field(description="Delivered with no failed attempt before, among delivered.")
    exception_rate: float | None
    return_rate: float | None
    lost_rate: float | None = Field(description="Undelivered and unscanned for `lost_after_days`, among all.")
    average_rating: float | None
    review_count: int


class CarrierAnalytics(BaseModel):
    """`GET /v1/analytics/carriers`: the period, the grouping and one entry per group."""

    from_: dt.datetime = Field(alias="from")
    to: dt.datetime
    group_by: list[str]
    lost_after_days: int
    groups: list[GroupFigures]

    model_config = ConfigDict(populate_by_name=True)


class LateShipment(BaseModel):
    """A shipment that missed its promise: delivered after it (`delivered_at`) or still open past it (`status`)."""

    shipment_id: uuid.UUID
    carrier: str
    tracking_number: str
    promised_delivery: dt.datetime
    delivered_at: dt.datetime | None
    status: str
    days_late: float = Field(description="Days between the promise and delivery (or now, while open).")


class NetworkGroup(BaseModel):
    """One anonymised lane across tenants: rates and percentiles only (no tenant, no count)."""

    carrier: str
    service: str | None
    destination_country: str | None
    on_time_rate: float | None
    first_attempt_rate: float | None
    transit_hours_p50: float | None
    transit_hours_p90: float | None
    average_rating: float | None


class NetworkBenchmark(BaseModel):
    """`GET /v1/analytics/network`: groups behind which at least `min_tenants` tenants and `min_shipments` shipments stand."""

    min_tenants: int
    min_shipments: int
    groups: list[NetworkGroup]


class Weights(BaseModel):
    """Recommendation weights (non-negative; only their ratios matter)."""

    model_config = ConfigDict(extra="forbid")

    price: float = Field(default=0.4, ge=0, le=100)
    transit: float = Field(default=0.2, ge=0, le=100)
    on_time: float = Field(default=0.3, ge=0, le=100)
    rating: float = Field(default=0.1, ge=0, le=100)

    @model_validator(mode="after")
    def _not_all_zero(self) -> Weights:
        if self.price + self.transit + self.on_time + self.rating <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class AnalyticsSettingsIn(BaseModel):
    """A tenant's analytics settings: default recommendation weights, and days without a scan before "lost"."""

    model_config = ConfigDict(extra="forbid")

    recommendation_weights: Weights | None = None
    lost_after_days: int | None = Field(default=None, ge=1, le=365)


class AnalyticsSettingsOut(BaseModel):
    """The settings in force (the server defaults where the tenant set none)."""

    recommendation_weights: Weights
    lost_after_days: int


class RatesRequest(BaseModel):
    """`POST /v1/rates` (and `/v1/recommendations`): what to price; `carriers` limits the carriers asked."""

    model_config = ConfigDict(extra="forbid")

    shipper: Address
    recipient: Address
    parcels: list[Parcel] = Field(min_length=1, max_length=50)
    ship_date: ShipDate | None = Field(default=None, description="When the parcels are handed over (default: today).")
    carriers: list[str] | None = Field(default=None, min_length=1, max_length=20)


class Price(BaseModel):
    """Money in minor units (cents, öre) of an ISO 4217 currency."""

    amount: int
    currency: str


class RateOut(BaseModel):
    """One priced service of one carrier."""

    carrier: str
    integration_id: uuid.UUID
    service: str
    service_name: str | None
    price: Price
    transit_days: int | None
    estimated_delivery: dt.date | None


class CarrierFailure(BaseModel):
    """Why a carrier gave no rates: its problem `type` slug (e.g. `carrier-unavailable`, `carrier-timeout`) and detail."""

    carrier: str
    integration_id: uuid.UUID | None
    type: str
    detail: str


class RatesOut(BaseModel):
    """Rates of every carrier that answered in time, cheapest first, and one error per carrier that did not."""

    rates: list[RateOut]
    errors: list[CarrierFailure]


class RecommendationRequest(RatesRequest):
    """The rates body plus optional `weights` (default: the tenant's settings, else the server's)."""

    weights: Weights | None = None


class ScoreComponent(BaseModel):
    """One part of a score: its weight, the figure behind it, its 0-1 score, and what it rests on."""

    weight: float
    value: float | None
    score: float | None
    basis: str


class History(BaseModel):
    """This tenant's measured history on the option's lane (destination country + carrier service), last 365 days."""

    shipments: int
    delivered_with_promise: int
    on_time_rate: float | None
    review_count: int
    average_rating: float | None
    sufficient: bool
    note: str | None


class RecommendationOption(BaseModel):
    """A rated option with its score (0-1, higher is better) and the figures behind it."""

    rank: int
    score: float
    rate: RateOut
    components: dict[str, ScoreComponent]
    history: History


class RecommendationsOut(BaseModel):
    """Options best first, the weights used, and the carriers that gave no rates."""

    weights: Weights
    options: list[RecommendationOption]
    errors: list[CarrierFailure]
