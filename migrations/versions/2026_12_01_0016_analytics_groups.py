"""analytics groups: per-day group rollups (analytics_group_days) and duration histograms
(analytics_duration_histograms) under RLS, and an index of the open shipments

`analytics_group_days` holds, per tenant, UTC day of `shipped_at` and group
(carrier, service, origin country, destination country), the counted figures
of the shipments' rollups; app.analytics.rollups keeps it in step with
`analytics_shipment_rollups`. It is filled here from the rollups that exist.
`analytics_duration_histograms` counts the transit and label-to-scan
durations in whole minutes per month and group, per month and carrier, and per
day for the tenant:
the percentiles are computed from them. The partial covering index on the open shipments (neither delivered, returned
nor cancelled) serves the in-transit and lost figures, which depend on the
query's time.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 15:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db.citus import distribute_new_tenant_table
from migrations.rls import enable_tenant_rls

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "analytics_group_days"
HISTOGRAMS = "analytics_duration_histograms"
OPEN_SQL = "delivered_at IS NULL AND NOT returned AND status NOT IN ('cancelled', 'returned')"

FILL_SQL = f"""
INSERT INTO {TABLE} (tenant_id, day, carrier, service, origin_country, destination_country, shipments, delivered,
                     on_time, on_time_basis, first_attempt, exceptions, returned, label_to_scan_count, label_to_scan_seconds)
SELECT r.tenant_id, CAST(r.shipped_at AT TIME ZONE 'UTC' AS date), r.carrier, COALESCE(r.service, ''),
       COALESCE(r.origin_country, ''), COALESCE(r.destination_country, ''), count(*),
       count(*) FILTER (WHERE r.delivered_at IS NOT NULL),
       count(*) FILTER (WHERE r.delivered_at <= r.promised_delivery),
       count(*) FILTER (WHERE r.delivered_at IS NOT NULL AND r.promised_delivery IS NOT NULL),
       count(*) FILTER (WHERE r.first_attempt), count(*) FILTER (WHERE r.had_exception),
       count(*) FILTER (WHERE r.returned), count(r.label_to_scan_hours),
       COALESCE(sum(round(CAST(r.label_to_scan_hours AS numeric) * 3600, 6)), 0)
FROM analytics_shipment_rollups r
GROUP BY 1, 2, 3, 4, 5, 6
"""


_DURATIONS = """
FROM analytics_shipment_rollups r
CROSS JOIN LATERAL (VALUES ('transit', CAST(round(r.transit_hours * 60) AS int)),
                           ('label_to_scan', CAST(round(r.label_to_scan_hours * 60) AS int))) AS m(metric, minutes)
WHERE m.minutes IS NOT NULL
"""
FILL_HISTOGRAMS_SQL = f"""
INSERT INTO {HISTOGRAMS} (tenant_id, grain, period_start, metric, carrier, service, origin_country, destination_country,
                          minutes, shipments)
SELECT r.tenant_id, 'month', CAST(date_trunc('month', r.shipped_at AT TIME ZONE 'UTC') AS date), m.metric, r.carrier,
       COALESCE(r.service, ''), COALESCE(r.origin_country, ''), COALESCE(r.destination_country, ''), m.minutes, count(*)
{_DURATIONS}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
UNION ALL
SELECT r.tenant_id, 'carrier_month', CAST(date_trunc('month', r.shipped_at AT TIME ZONE 'UTC') AS date), m.metric,
       r.carrier, '', '', '', m.minutes, count(*)
{_DURATIONS}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
UNION ALL
SELECT r.tenant_id, 'day', CAST(r.shipped_at AT TIME ZONE 'UTC' AS date), m.metric, '', '', '', '', m.minutes, count(*)
{_DURATIONS}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""


def upgrade() -> None:
    op.create_table(TABLE,
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('carrier', sa.String(length=50), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('origin_country', sa.String(length=2), nullable=False),
    sa.Column('destination_country', sa.String(length=2), nullable=False),
    sa.Column('shipments', sa.BigInteger(), nullable=False),
    sa.Column('delivered', sa.BigInteger(), nullable=False),
    sa.Column('on_time', sa.BigInteger(), nullable=False),
    sa.Column('on_time_basis', sa.BigInteger(), nullable=False),
    sa.Column('first_attempt', sa.BigInteger(), nullable=False),
    sa.Column('exceptions', sa.BigInteger(), nullable=False),
    sa.Column('returned', sa.BigInteger(), nullable=False),
    sa.Column('label_to_scan_count', sa.BigInteger(), nullable=False),
    sa.Column('label_to_scan_seconds', sa.Numeric(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'day', 'carrier', 'service', 'origin_country', 'destination_country',
                            name=op.f('pk_analytics_group_days'))
    )
    distribute_new_tenant_table(op.get_bind(), TABLE)
    op.create_foreign_key(op.f('fk_analytics_group_days_tenant_id_tenants'), TABLE, 'tenants', ['tenant_id'], ['id'],
                          ondelete='CASCADE')
    enable_tenant_rls(TABLE)
    op.create_table(HISTOGRAMS,
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('grain', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('metric', sa.String(length=16), nullable=False),
    sa.Column('carrier', sa.String(length=50), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('origin_country', sa.String(length=2), nullable=False),
    sa.Column('destination_country', sa.String(length=2), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('shipments', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'grain', 'period_start', 'metric', 'carrier', 'service', 'origin_country',
                            'destination_country', 'minutes', name=op.f('pk_analytics_duration_histograms'))
    )
    distribute_new_tenant_table(op.get_bind(), HISTOGRAMS)
    op.create_foreign_key(op.f('fk_analytics_duration_histograms_tenant_id_tenants'), HISTOGRAMS, 'tenants', ['tenant_id'],
                          ['id'], ondelete='CASCADE')
    enable_tenant_rls(HISTOGRAMS)
    op.create_index('ix_analytics_shipment_rollups_tenant_id_shipped_at_open', 'analytics_shipment_rollups',
                    ['tenant_id', 'shipped_at'], unique=False,
                    postgresql_include=['carrier', 'service', 'origin_country', 'destination_country', 'first_scan_at', 'last_event_at'],
                    postgresql_where=sa.text(OPEN_SQL))
    op.execute(FILL_SQL)
    op.execute(FILL_HISTOGRAMS_SQL)


def downgrade() -> None:
    op.drop_index('ix_analytics_shipment_rollups_tenant_id_shipped_at_open', table_name='analytics_shipment_rollups',
                  postgresql_where=sa.text(OPEN_SQL))
    op.drop_table(HISTOGRAMS)  # with its policy and grants
    op.drop_table(TABLE)
