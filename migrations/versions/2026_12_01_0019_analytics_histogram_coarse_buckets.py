"""analytics histograms: coarse buckets of the per-group month cells, carrier weeks (analytics_duration_histograms)

`analytics_duration_histograms` gains the grain 'month_coarse': per group and
UTC month like 'month', but counted per bucket of minutes (four buckets per
octave; `minutes` the bucket's first minute, app.analytics.buckets), so a
grouping by month and lane finds the buckets holding each percentile's ranks
first and reads the one-minute rows only inside them. No column changes: the
rows are filled here from the 'month' rows, and app.analytics.rollups keeps
them from now on. A second grain, 'carrier_week' (per carrier and ISO week,
`period_start` its Monday), serves a grouping by carrier and week; it is
filled from the shipment rollups. The primary key's index INCLUDEs `shipments`, so those
reads (and every other histogram read) are index-only.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTOGRAMS = "analytics_duration_histograms"
ROLLUPS = "analytics_shipment_rollups"
KEY = ("tenant_id, grain, period_start, metric, carrier, service, origin_country, destination_country, minutes")
# app.analytics.buckets.bucket_sql("minutes") as of this revision
BUCKET = ("CASE WHEN minutes < 4 THEN minutes "
          "ELSE minutes & -(1 << (30 - position('1' IN CAST(CAST(minutes AS bit(32)) AS text)))) END")


def upgrade() -> None:
    # FORCEd row-level security holds a non-superuser owner too (managed PostgreSQL): lifted for the copy, as in 0005.
    op.execute(f"ALTER TABLE {HISTOGRAMS} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"""
        INSERT INTO {HISTOGRAMS} (tenant_id, grain, period_start, metric, carrier, service, origin_country,
                                  destination_country, minutes, shipments)
        SELECT tenant_id, 'month_coarse', period_start, metric, carrier, service, origin_country, destination_country,
               {BUCKET}, sum(shipments)
        FROM {HISTOGRAMS}
        WHERE grain = 'month'
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        HAVING sum(shipments) <> 0
    """)
    op.execute(f"ALTER TABLE {ROLLUPS} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"""
        INSERT INTO {HISTOGRAMS} (tenant_id, grain, period_start, metric, carrier, service, origin_country,
                                  destination_country, minutes, shipments)
        SELECT r.tenant_id, 'carrier_week', CAST(date_trunc('week', r.shipped_at AT TIME ZONE 'UTC') AS date), m.metric,
               r.carrier, '', '', '', m.minutes, count(*)
        FROM {ROLLUPS} r
        CROSS JOIN LATERAL (VALUES ('transit', CAST(round(r.transit_hours * 60) AS int)),
                                   ('label_to_scan', CAST(round(r.label_to_scan_hours * 60) AS int))) AS m(metric, minutes)
        WHERE m.minutes IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    """)
    op.execute(f"ALTER TABLE {ROLLUPS} FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {HISTOGRAMS} FORCE ROW LEVEL SECURITY")
    _primary_key("INCLUDE (shipments)")


def _primary_key(include: str) -> None:
    op.execute(f"ALTER TABLE {HISTOGRAMS} DROP CONSTRAINT pk_{HISTOGRAMS}")
    op.execute(f"ALTER TABLE {HISTOGRAMS} ADD CONSTRAINT pk_{HISTOGRAMS} PRIMARY KEY ({KEY}) {include}")


def downgrade() -> None:
    _primary_key("")
    op.execute(f"ALTER TABLE {HISTOGRAMS} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"DELETE FROM {HISTOGRAMS} WHERE grain IN ('month_coarse', 'carrier_week')")
    op.execute(f"ALTER TABLE {HISTOGRAMS} FORCE ROW LEVEL SECURITY")
