"""analytics group months: the counted figures per UTC calendar month and group (analytics_group_months)

`analytics_group_months` holds, per tenant, calendar month of `shipped_at` and
group (carrier, service, origin country, destination country), the sums of the
`analytics_group_days` rows of that month; app.analytics.rollups keeps both in
the worker's refresh and rebuild. A period's counted figures read its whole
months here (~180 rows a month instead of ~5,500 day rows) and the days at the
ends from the group days. Filled here from the group days.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 18:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db.citus import distribute_new_tenant_table, has_citus
from migrations.rls import enable_tenant_rls

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "analytics_group_months"
DAYS = "analytics_group_days"
FIGURES = (
    "shipments, delivered, on_time, on_time_basis, first_attempt, exceptions, returned, label_to_scan_count, "
    "label_to_scan_seconds"
)
FILL_SQL = f"""
INSERT INTO {TABLE} (tenant_id, month, carrier, service, origin_country, destination_country, {FIGURES})
SELECT d.tenant_id, CAST(date_trunc('month', d.day) AS date), d.carrier, d.service, d.origin_country,
       d.destination_country, {", ".join(f"sum(d.{figure})" for figure in FIGURES.split(", "))}
FROM {DAYS} d
GROUP BY d.tenant_id, 2, 3, 4, 5, 6
"""


def upgrade() -> None:
    if has_citus(op.get_bind()):
        # One connection per node for the whole transaction (as in 0020): Citus refuses to write to a table with a
        # foreign key to a reference table after a parallel operation (its shards' creation) in the same transaction.
        op.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    op.create_table(TABLE,
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
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
    sa.PrimaryKeyConstraint('tenant_id', 'month', 'carrier', 'service', 'origin_country', 'destination_country',
                            name=op.f('pk_analytics_group_months'))
    )
    distribute_new_tenant_table(op.get_bind(), TABLE)
    op.create_foreign_key(op.f('fk_analytics_group_months_tenant_id_tenants'), TABLE, 'tenants', ['tenant_id'], ['id'],
                          ondelete='CASCADE')
    enable_tenant_rls(TABLE)
    # FORCEd row-level security holds a non-superuser owner too (managed PostgreSQL): lifted for the copy, as in 0020.
    op.execute(f"ALTER TABLE {TABLE} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {DAYS} NO FORCE ROW LEVEL SECURITY")
    op.execute(FILL_SQL)
    op.execute(f"ALTER TABLE {DAYS} FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_table(TABLE)
