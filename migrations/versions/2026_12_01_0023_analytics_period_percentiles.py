"""analytics period percentiles: percentile_cont per whole week, week part and month and lane subset

`analytics_period_percentiles` holds, per tenant, kind of period ('week': ISO
week; 'week_part': a week cut at calendar months; 'month': UTC calendar
month), lane subset (`lanes`, the initials of carrier, service, origin and
destination in it) and lane values ('' outside the subset or missing),
percentile_cont of the transit (p50, p90) and label-to-scan (p50) minutes of
its shipments (app.analytics.period_percentiles). It is filled here from the
counted rollups, one tenant at a time (each statement is then a single-shard
one on Citus, where GROUP BY CUBE is not taken across shards), and kept by the
worker from now on. A grouping by week or month and lane reads it, so the
histogram grains that served only such groupings are removed: 'month_coarse'
(0019), 'carrier_week' (0019), and the week parts 'week_o' ... 'week_csdo'
with 'week_do_coarse' and 'week_cso_coarse' (0022). The downgrade refills them
from the 'month' cells and the counted rollups, as 0019 and 0022 filled them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 22:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db.citus import distribute_new_tenant_table
from migrations.rls import enable_tenant_rls

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "analytics_period_percentiles"
HISTOGRAMS = "analytics_duration_histograms"
COUNTED = "analytics_counted_rollups"
# app.analytics.period_percentiles as of this revision: each kind and the first day of its period holding {t}
KINDS = {
    "week": "date_trunc('week', {t})",
    "week_part": "greatest(date_trunc('week', {t}), date_trunc('month', {t}))",
    "month": "date_trunc('month', {t})",
}
FILL_SQL = """
INSERT INTO analytics_period_percentiles (tenant_id, kind, lanes, period_start, carrier, service, origin_country,
                                          destination_country, transit_p50, transit_p90, label_to_scan_p50)
SELECT r.tenant_id, '{kind}',
       concat(CASE WHEN GROUPING(r.carrier) = 0 THEN 'c' END, CASE WHEN GROUPING(r.service) = 0 THEN 's' END,
              CASE WHEN GROUPING(r.origin_country) = 0 THEN 'o' END,
              CASE WHEN GROUPING(r.destination_country) = 0 THEN 'd' END),
       r.period_start, COALESCE(r.carrier, ''), COALESCE(r.service, ''), COALESCE(r.origin_country, ''),
       COALESCE(r.destination_country, ''),
       (percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY r.transit))[1],
       (percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY r.transit))[2],
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.scan)
FROM (
    SELECT x.tenant_id, CAST({period} AS date) AS period_start, x.carrier, COALESCE(x.service, '') AS service,
           COALESCE(x.origin_country, '') AS origin_country, COALESCE(x.destination_country, '') AS destination_country,
           CAST(round(x.transit_hours * 60) AS int) AS transit, CAST(round(x.label_to_scan_hours * 60) AS int) AS scan
    FROM analytics_counted_rollups x
    WHERE x.tenant_id = :tenant_id
) r
GROUP BY r.tenant_id, r.period_start, CUBE (r.carrier, r.service, r.origin_country, r.destination_country)
HAVING count(r.transit) > 0 OR count(r.scan) > 0
"""
# The grains removed here, as 0019 and 0022 defined them.
WEEK_GRAINS = (
    ("week_o", False, False, False), ("week_co", True, False, False), ("week_so", False, True, False),
    ("week_do", False, False, True), ("week_cso", True, True, False), ("week_cdo", True, False, True),
    ("week_sdo", False, True, True), ("week_csdo", True, True, True),
)
WEEK_COARSE = {"week_do": "week_do_coarse", "week_cso": "week_cso_coarse"}
REMOVED = ("month_coarse", "carrier_week", *(grain for grain, *_ in WEEK_GRAINS), *WEEK_COARSE.values())
BUCKET = ("CASE WHEN minutes < 4 THEN minutes "
          "ELSE minutes & -(1 << (30 - position('1' IN CAST(CAST(minutes AS bit(32)) AS text)))) END")
_CELL_COLUMNS = ("tenant_id, grain, period_start, metric, carrier, service, origin_country, destination_country, "
                 "minutes, shipments")
_DURATIONS = """CROSS JOIN LATERAL (VALUES ('transit', CAST(round(r.transit_hours * 60) AS int)),
                           ('label_to_scan', CAST(round(r.label_to_scan_hours * 60) AS int))) AS m(metric, minutes)"""
REFILL_SQL = (
    f"""INSERT INTO {HISTOGRAMS} ({_CELL_COLUMNS})
    SELECT tenant_id, 'month_coarse', period_start, metric, carrier, service, origin_country, destination_country,
           {BUCKET}, sum(shipments)
    FROM {HISTOGRAMS} WHERE grain = 'month'
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 HAVING sum(shipments) <> 0""",
    f"""INSERT INTO {HISTOGRAMS} ({_CELL_COLUMNS})
    SELECT r.tenant_id, 'carrier_week', CAST(date_trunc('week', r.shipped_at AT TIME ZONE 'UTC') AS date), m.metric,
           r.carrier, '', '', '', m.minutes, count(*)
    FROM {COUNTED} r {_DURATIONS}
    WHERE m.minutes IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9""",
    f"""INSERT INTO {HISTOGRAMS} ({_CELL_COLUMNS})
    SELECT r.tenant_id, g.grain,
           CAST(greatest(date_trunc('week', r.shipped_at AT TIME ZONE 'UTC'),
                         date_trunc('month', r.shipped_at AT TIME ZONE 'UTC')) AS date),
           m.metric, CASE WHEN g.carrier THEN r.carrier ELSE '' END,
           CASE WHEN g.service THEN COALESCE(r.service, '') ELSE '' END, COALESCE(r.origin_country, ''),
           CASE WHEN g.destination THEN COALESCE(r.destination_country, '') ELSE '' END, m.minutes, count(*)
    FROM {COUNTED} r
    CROSS JOIN (VALUES {", ".join(f"('{grain}', {c}, {s}, {d})" for grain, c, s, d in WEEK_GRAINS)})
        AS g(grain, carrier, service, destination)
    {_DURATIONS}
    WHERE m.minutes IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9""",
    f"""INSERT INTO {HISTOGRAMS} ({_CELL_COLUMNS})
    SELECT tenant_id, grain || '_coarse', period_start, metric, carrier, service, origin_country, destination_country,
           {BUCKET}, sum(shipments)
    FROM {HISTOGRAMS} WHERE grain IN ({", ".join(f"'{grain}'" for grain in WEEK_COARSE)})
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9""",
)


def upgrade() -> None:
    op.create_table(TABLE,
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('lanes', sa.String(length=4), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('carrier', sa.String(length=50), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('origin_country', sa.String(length=2), nullable=False),
    sa.Column('destination_country', sa.String(length=2), nullable=False),
    sa.Column('transit_p50', sa.Float(), nullable=True),
    sa.Column('transit_p90', sa.Float(), nullable=True),
    sa.Column('label_to_scan_p50', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'kind', 'lanes', 'period_start', 'carrier', 'service', 'origin_country',
                            'destination_country', name=op.f('pk_analytics_period_percentiles'))
    )
    distribute_new_tenant_table(op.get_bind(), TABLE)
    op.create_foreign_key(op.f('fk_analytics_period_percentiles_tenant_id_tenants'), TABLE, 'tenants', ['tenant_id'],
                          ['id'], ondelete='CASCADE')
    enable_tenant_rls(TABLE)
    # FORCEd row-level security holds a non-superuser owner too (managed PostgreSQL): lifted for the copies, as in 0020.
    for table in (TABLE, HISTOGRAMS, COUNTED):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    bind = op.get_bind()
    for (tenant_id,) in bind.execute(sa.text("SELECT id FROM tenants ORDER BY id")).all():
        for kind, period in KINDS.items():
            sql = FILL_SQL.format(kind=kind, period=period.format(t="x.shipped_at AT TIME ZONE 'UTC'"))
            bind.execute(sa.text(sql), {"tenant_id": tenant_id})
    op.execute(f"DELETE FROM {HISTOGRAMS} WHERE grain IN ({', '.join(f'{chr(39)}{g}{chr(39)}' for g in REMOVED)})")
    for table in (COUNTED, HISTOGRAMS, TABLE):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_table(TABLE)
    for table in (HISTOGRAMS, COUNTED):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    for statement in REFILL_SQL:
        op.execute(statement)
    for table in (COUNTED, HISTOGRAMS):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
