"""The analytics tables: per-shipment rollups (and their work queue), reviews, review links, tenant settings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantKeyMixin, TenantMixin, utcnow

AUTHOR_KINDS = ("merchant", "recipient")
OPEN_SQL = "delivered_at IS NULL AND NOT returned AND status NOT IN ('cancelled', 'returned')"
"""A shipment still open (neither delivered, returned nor cancelled): the predicate of the open-shipments index."""


class ShipmentRollup(TenantKeyMixin, Base):
    """One shipment's performance figures, rolled up from its tracking events (app.analytics.rollups).

    Maintained by the worker from tracking changes and by `courier-hub analytics
    rebuild`. Times are UTC; hours are fractional. `promised_delivery` is the
    first non-null estimated delivery the carrier gave (never moved later).
    `shipped_at` (label ship date, else booking, else registration) places
    the shipment in a period.
    """

    __tablename__ = "analytics_shipment_rollups"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shipment_id"], ["shipments.tenant_id", "shipments.id"], ondelete="CASCADE"),
        # Covering: the percentile statement of app.analytics.queries reads only the index (no heap visit).
        # The open shipments (in transit or lost: the figures that depend on the query's "now"), index-only.
        Index(
            "ix_analytics_shipment_rollups_tenant_id_shipped_at_open",
            "tenant_id",
            "shipped_at",
            postgresql_include=["carrier", "service", "origin_country", "destination_country", "first_scan_at", "last_event_at"],
            postgresql_where=text(OPEN_SQL),
        ),
        Index(
            "ix_analytics_shipment_rollups_tenant_id_shipped_at",
            "tenant_id",
            "shipped_at",
            postgresql_include=["carrier", "service", "origin_country", "destination_country", "transit_hours", "label_to_scan_hours"],
        ),
    )

    shipment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(50))
    service: Mapped[str | None] = mapped_column(String(64))
    origin_country: Mapped[str | None] = mapped_column(String(2))
    destination_country: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(32))
    shipped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_scan_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    promised_delivery: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transit_hours: Mapped[float | None] = mapped_column(Float)
    label_to_scan_hours: Mapped[float | None] = mapped_column(Float)
    first_attempt: Mapped[bool] = mapped_column(Boolean, default=False)
    had_exception: Mapped[bool] = mapped_column(Boolean, default=False)
    returned: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)


class CountedRollup(TenantKeyMixin, Base):
    """A shipment's rollup as it is counted in `analytics_group_days` and `analytics_duration_histograms`.

    The columns of `ShipmentRollup` those counts read, as they were when the
    worker last added the shipment's contribution (app.analytics.rollups):
    a refresh adds `recomputed − counted` to the groups, so a shipment whose
    figures did not change writes nothing, then copies the recomputed row here.
    """

    __tablename__ = "analytics_counted_rollups"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shipment_id"], ["shipments.tenant_id", "shipments.id"], ondelete="CASCADE"),
    )

    shipment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(50))
    service: Mapped[str | None] = mapped_column(String(64))
    origin_country: Mapped[str | None] = mapped_column(String(2))
    destination_country: Mapped[str | None] = mapped_column(String(2))
    shipped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    promised_delivery: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transit_hours: Mapped[float | None] = mapped_column(Float)
    label_to_scan_hours: Mapped[float | None] = mapped_column(Float)
    first_attempt: Mapped[bool] = mapped_column(Boolean)
    had_exception: Mapped[bool] = mapped_column(Boolean)
    returned: Mapped[bool] = mapped_column(Boolean)


class GroupFigures:
    """The additive counted figures of a group (app.analytics.rollups.GROUP_FIGURES), shared by days and months."""

    shipments: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    on_time: Mapped[int] = mapped_column(BigInteger, default=0)
    on_time_basis: Mapped[int] = mapped_column(BigInteger, default=0)
    first_attempt: Mapped[int] = mapped_column(BigInteger, default=0)
    exceptions: Mapped[int] = mapped_column(BigInteger, default=0)
    returned: Mapped[int] = mapped_column(BigInteger, default=0)
    label_to_scan_count: Mapped[int] = mapped_column(BigInteger, default=0)
    label_to_scan_seconds: Mapped[Decimal] = mapped_column(Numeric, default=0)


class GroupDay(GroupFigures, TenantKeyMixin, Base):
    """The counted figures of the shipments of one UTC day and group (carrier, service, origin, destination).

    The sum of the contributions of the `analytics_shipment_rollups` rows whose
    `shipped_at` falls on `day`: kept by app.analytics.rollups in the statement
    that refreshes those rows (the old row's contribution subtracted, the new
    one's added) and recomputed by `courier-hub analytics rebuild`. A missing
    service or country is stored as '' (a key column cannot be NULL).
    `label_to_scan_seconds` is the exact sum (numeric) over the
    `label_to_scan_count` shipments that have one.
    """

    __tablename__ = "analytics_group_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(50), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin_country: Mapped[str] = mapped_column(String(2), primary_key=True)
    destination_country: Mapped[str] = mapped_column(String(2), primary_key=True)


class GroupMonth(GroupFigures, TenantKeyMixin, Base):
    """The counted figures of the shipments of one UTC calendar month and group: the sum of its `GroupDay` rows.

    Kept by app.analytics.rollups in the same statements' transaction as the
    group days (`recomputed − counted` added) and recomputed by `courier-hub
    analytics rebuild`; a period's counted figures read its whole months here
    and the days at the ends from `analytics_group_days` (app.analytics.cells).
    """

    __tablename__ = "analytics_group_months"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(50), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin_country: Mapped[str] = mapped_column(String(2), primary_key=True)
    destination_country: Mapped[str] = mapped_column(String(2), primary_key=True)


class GroupWeek(GroupFigures, TenantKeyMixin, Base):
    """The counted figures of the shipments of one week part and group: the sum of its `GroupDay` rows.

    `week` is the part's first day: the part of an ISO week (UTC) inside one
    calendar month starts on the week's Monday, or on the 1st of the month
    (app.analytics.weeks). Kept by app.analytics.rollups with the group days
    and recomputed by `courier-hub analytics rebuild`; a grouping by week reads
    a period's whole ISO weeks here and the days at the ends from
    `analytics_group_days`.
    """

    __tablename__ = "analytics_group_weeks"

    week: Mapped[date] = mapped_column(Date, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(50), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin_country: Mapped[str] = mapped_column(String(2), primary_key=True)
    destination_country: Mapped[str] = mapped_column(String(2), primary_key=True)


class DurationHistogram(TenantKeyMixin, Base):
    """How many shipments had each duration (whole minutes) in one cell: the source of the percentiles.

    `metric` is 'transit' (first scan, else ship date, to delivered) or
    'label_to_scan' (booking to first scan); `minutes` the duration rounded to
    the minute. These grains, all kept by app.analytics.rollups in the rollup
    refresh statement (+1 for the new row, -1 for the old) and by `rebuild`:

    * 'month', 'quarter', 'year': `period_start` the first day of a UTC
      calendar month, quarter or year, per group (carrier, service, origin,
      destination; '' when missing); a quarter or year cell is the sum of its
      months, so a long period reads few cells (app.analytics.cells);
    * 'carrier_month': the same months, per carrier (the other group columns are '');
    * 'day': `period_start` a UTC day, for the whole tenant (the group columns are '').

    Groupings by week or month and lane read `PeriodPercentile` instead.
    """

    __tablename__ = "analytics_duration_histograms"
    __table_args__ = (
        # Covering: the percentile reads (app.analytics.percentiles) are index-only.
        PrimaryKeyConstraint(
            "tenant_id", "grain", "period_start", "metric", "carrier", "service", "origin_country",
            "destination_country", "minutes", postgresql_include=["shipments"],
        ),
    )

    grain: Mapped[str] = mapped_column(String(16), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(50), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin_country: Mapped[str] = mapped_column(String(2), primary_key=True)
    destination_country: Mapped[str] = mapped_column(String(2), primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipments: Mapped[int] = mapped_column(BigInteger, default=0)


class PeriodPercentile(TenantKeyMixin, Base):
    """percentile_cont of the transit and label-to-scan minutes of one whole period and lane (app.analytics.period_percentiles).

    `kind` is 'week' (ISO week, `period_start` its Monday), 'week_part' (a week
    cut at calendar months, app.analytics.weeks) or 'month' (UTC calendar
    month); `lanes` the lane subset (initials of carrier, service, origin,
    destination: 'c', 'cd', 'csod', ...); the lane columns outside it, and
    missing values, are ''. The figures are minutes (fractional: interpolated),
    NULL when no shipment of the group has that duration. Kept by the worker
    with the other rollups and recomputed by `courier-hub analytics rebuild`.
    """

    __tablename__ = "analytics_period_percentiles"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    lanes: Mapped[str] = mapped_column(String(4), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(50), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin_country: Mapped[str] = mapped_column(String(2), primary_key=True)
    destination_country: Mapped[str] = mapped_column(String(2), primary_key=True)
    transit_p50: Mapped[float | None] = mapped_column(Float)
    transit_p90: Mapped[float | None] = mapped_column(Float)
    label_to_scan_p50: Mapped[float | None] = mapped_column(Float)


class DirtyShipment(TenantKeyMixin, Base):
    """A shipment whose rollup is due: queued in the same statement as its tracking change (an event SQL hook).

    `first_estimated_delivery` is the shipment's estimated delivery when it was
    first queued since the last rollup, so the first promise is kept even if a
    later change moved it before the worker ran.
    """

    __tablename__ = "analytics_dirty_shipments"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shipment_id"], ["shipments.tenant_id", "shipments.id"], ondelete="CASCADE"),
    )

    shipment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    first_estimated_delivery: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)


class Review(TenantMixin, Base):
    """A rating of one delivery: one per (shipment, author kind); editable; hidden by a tenant admin's moderation.

    `carrier`, `service` and `destination_country` are copied from the shipment
    when the review is written, so lists filter and aggregates group without a join.
    """

    __tablename__ = "shipment_reviews"
    __table_args__ = (
        UniqueConstraint("tenant_id", "shipment_id", "author_kind"),
        ForeignKeyConstraint(["tenant_id", "shipment_id"], ["shipments.tenant_id", "shipments.id"], ondelete="CASCADE"),
        CheckConstraint("author_kind IN ('merchant', 'recipient')", name="author_kind"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("speed BETWEEN 1 AND 5", name="speed"),
        CheckConstraint("condition BETWEEN 1 AND 5", name="condition"),
        CheckConstraint("communication BETWEEN 1 AND 5", name="communication"),
        CheckConstraint("courier BETWEEN 1 AND 5", name="courier"),
        CheckConstraint("char_length(comment) <= 2000", name="comment_length"),
        Index("ix_shipment_reviews_tenant_id_carrier_id", "tenant_id", "carrier", "id"),
    )

    shipment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    author_kind: Mapped[str] = mapped_column(String(16))
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    speed: Mapped[int | None] = mapped_column(SmallInteger)
    condition: Mapped[int | None] = mapped_column(SmallInteger)
    communication: Mapped[int | None] = mapped_column(SmallInteger)
    courier: Mapped[int | None] = mapped_column(SmallInteger)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    carrier: Mapped[str] = mapped_column(String(50))
    service: Mapped[str | None] = mapped_column(String(64))
    destination_country: Mapped[str | None] = mapped_column(String(2))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )


class ReviewLink(TenantMixin, Base):
    """A recipient's review link: its signed token names this row; it works once (`used_at`) until `expires_at`."""

    __tablename__ = "review_links"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shipment_id"], ["shipments.tenant_id", "shipments.id"], ondelete="CASCADE"),
        Index("ix_review_links_tenant_id_shipment_id", "tenant_id", "shipment_id"),
    )

    shipment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AnalyticsSettings(TenantKeyMixin, Base):
    """A tenant's analytics settings: recommendation weights and the "lost" threshold (NULL: the server default)."""

    __tablename__ = "analytics_settings"

    recommendation_weights: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    lost_after_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )
