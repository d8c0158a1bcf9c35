"""analytics week parts: group counts per week part (analytics_group_weeks) and week-part histogram grains

A week part is the piece of an ISO week (UTC) inside one calendar month, named
by its first day (the week's Monday, or the 1st of the month when the week
began in the month before; app.analytics.weeks). `analytics_group_weeks` holds,
per tenant, week part and group (carrier, service, origin country, destination
country), the sums of the `analytics_group_days` rows of that part; it is
filled here from the group days. `analytics_duration_histograms` gains the
grains 'week_o', 'week_co', 'week_so', 'week_do', 'week_cso', 'week_cdo',
'week_sdo' and 'week_csdo': the durations per week part and lane subset (the
initials of carrier, service, destination, origin; the other lane columns
''), filled here from the counted rollups, and for 'week_do' and 'week_cso' the same
per bucket of minutes ('week_do_coarse', 'week_cso_coarse', as 0019's
'month_coarse'). app.analytics.rollups keeps them all from now on; a grouping
by week and lane dimensions reads them instead of one row per shipment.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 19:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db.citus import distribute_new_tenant_table, has_citus
from migrations.rls import enable_tenant_rls

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "analytics_group_weeks"
DAYS = "analytics_group_days"
HISTOGRAMS = "analytics_duration_histograms"
COUNTED = "analytics_counted_rollups"
FIGURES = (
    "shipments, delivered, on_time, on_time_basis, first_attempt, exceptions, returned, label_to_scan_count, "
    "label_to_scan_seconds"
)
FILL_SQL = f"""
INSERT INTO {TABLE} (tenant_id, week, carrier, service, origin_country, destination_country, {FIGURES})
SELECT d.tenant_id,
       CAST(greatest(date_trunc('week', CAST(d.day AS timestamp)), date_trunc('month', CAST(d.day AS timestamp))) AS date),
       d.carrier, d.service, d.origin_country, d.destination_country,
       {", ".join(f"sum(d.{figure})" for figure in FIGURES.split(", "))}
FROM {DAYS} d
GROUP BY d.tenant_id, 2, 3, 4, 5, 6
"""
# app.analytics.weeks.GRAINS as of this revision: (grain, with carrier, with service, with destination); all with origin
GRAINS = (
    ("week_o", False, False, False), ("week_co", True, False, False), ("week_so", False, True, False),
    ("week_do", False, False, True), ("week_cso", True, True, False), ("week_cdo", True, False, True),
    ("week_sdo", False, True, True), ("week_csdo", True, True, True),
)
CELLS_SQL = f"""
INSERT INTO {HISTOGRAMS} (tenant_id, grain, period_start, metric, carrier, service, origin_country,
                          destination_country, minutes, shipments)
SELECT r.tenant_id, g.grain,
       CAST(greatest(date_trunc('week', r.shipped_at AT TIME ZONE 'UTC'),
                     date_trunc('month', r.shipped_at AT TIME ZONE 'UTC')) AS date),
       m.metric,
       CASE WHEN g.carrier THEN r.carrier ELSE '' END,
       CASE WHEN g.service THEN COALESCE(r.service, '') ELSE '' END,
       COALESCE(r.origin_country, ''),
       CASE WHEN g.destination THEN COALESCE(r.destination_country, '') ELSE '' END,
       m.minutes, count(*)
FROM {COUNTED} r
CROSS JOIN (VALUES {", ".join(f"('{grain}', {c}, {s}, {d})" for grain, c, s, d in GRAINS)})
    AS g(grain, carrier, service, destination)
CROSS JOIN LATERAL (VALUES ('transit', CAST(round(r.transit_hours * 60) AS int)),
                           ('label_to_scan', CAST(round(r.label_to_scan_hours * 60) AS int))) AS m(metric, minutes)
WHERE m.minutes IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""
# app.analytics.weeks.COARSE_GRAINS and app.analytics.buckets.bucket_sql("minutes") as of this revision
COARSE = {"week_do": "week_do_coarse", "week_cso": "week_cso_coarse"}
BUCKET = ("CASE WHEN minutes < 4 THEN minutes "
          "ELSE minutes & -(1 << (30 - position('1' IN CAST(CAST(minutes AS bit(32)) AS text)))) END")
COARSE_SQL = f"""
INSERT INTO {HISTOGRAMS} (tenant_id, grain, period_start, metric, carrier, service, origin_country,
                          destination_country, minutes, shipments)
SELECT tenant_id, grain || '_coarse', period_start, metric, carrier, service, origin_country, destination_country,
       {BUCKET}, sum(shipments)
FROM {HISTOGRAMS}
WHERE grain IN ({", ".join(f"'{grain}'" for grain in COARSE)})
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""


def upgrade() -> None:
    if has_citus(op.get_bind()):
        # One connection per node for the whole transaction (as in 0020): Citus refuses to write to a table with a
        # foreign key to a reference table after a parallel operation (its shards' creation) in the same transaction.
        op.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    op.create_table(TABLE,
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('week', sa.Date(), nullable=False),
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
    sa.PrimaryKeyConstraint('tenant_id', 'week', 'carrier', 'service', 'origin_country', 'destination_country',
                            name=op.f('pk_analytics_group_weeks'))
    )
    distribute_new_tenant_table(op.get_bind(), TABLE)
    op.create_foreign_key(op.f('fk_analytics_group_weeks_tenant_id_tenants'), TABLE, 'tenants', ['tenant_id'], ['id'],
                          ondelete='CASCADE')
    enable_tenant_rls(TABLE)
    # FORCEd row-level security holds a non-superuser owner too (managed PostgreSQL): lifted for the copies, as in 0020.
    for table in (TABLE, DAYS, HISTOGRAMS, COUNTED):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(FILL_SQL)
    op.execute(CELLS_SQL)
    op.execute(COARSE_SQL)
    for table in (COUNTED, HISTOGRAMS, DAYS, TABLE):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_table(TABLE)
    op.execute(f"ALTER TABLE {HISTOGRAMS} NO FORCE ROW LEVEL SECURITY")
    grains = ", ".join(f"'{grain}'" for grain in [*(grain for grain, *_ in GRAINS), *COARSE.values()])
    op.execute(f"DELETE FROM {HISTOGRAMS} WHERE grain IN ({grains})")
    op.execute(f"ALTER TABLE {HISTOGRAMS} FORCE ROW LEVEL SECURITY")
