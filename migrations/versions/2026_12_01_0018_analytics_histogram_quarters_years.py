"""analytics histograms: calendar quarter and year cells per group (analytics_duration_histograms)

`analytics_duration_histograms` gains two grains, 'quarter' and 'year'
(`period_start` the first day of a UTC calendar quarter or year; per group like
'month'), so a year's percentiles read three or four cells instead of twelve
(app.analytics.cells). No column changes: the rows are filled here from the
'month' rows that exist (a quarter or year cell is the sum of its months), and
app.analytics.rollups keeps them from now on.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTOGRAMS = "analytics_duration_histograms"
GRAINS = ("quarter", "year")


def upgrade() -> None:
    # FORCEd row-level security holds a non-superuser owner too (managed PostgreSQL): lifted for the copy, as in 0005.
    op.execute(f"ALTER TABLE {HISTOGRAMS} NO FORCE ROW LEVEL SECURITY")
    for grain in GRAINS:
        op.execute(f"""
            INSERT INTO {HISTOGRAMS} (tenant_id, grain, period_start, metric, carrier, service, origin_country,
                                      destination_country, minutes, shipments)
            SELECT tenant_id, '{grain}', CAST(date_trunc('{grain}', period_start) AS date), metric, carrier, service,
                   origin_country, destination_country, minutes, sum(shipments)
            FROM {HISTOGRAMS}
            WHERE grain = 'month'
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
            HAVING sum(shipments) <> 0
        """)
    op.execute(f"ALTER TABLE {HISTOGRAMS} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {HISTOGRAMS} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"DELETE FROM {HISTOGRAMS} WHERE grain IN ('quarter', 'year')")
    op.execute(f"ALTER TABLE {HISTOGRAMS} FORCE ROW LEVEL SECURITY")
