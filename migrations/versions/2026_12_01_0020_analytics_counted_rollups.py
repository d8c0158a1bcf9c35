"""analytics counted rollups: each shipment's rollup as it is counted in the group days and histograms

`analytics_counted_rollups` holds, per shipment, the columns of
`analytics_shipment_rollups` that `analytics_group_days` and
`analytics_duration_histograms` count, as they were when the worker last added
the shipment's contribution. A refresh then adds `recomputed − counted` in one
statement per table (net changes only) and copies the recomputed rows here,
instead of subtracting every cell of the batch and adding it again. Filled
here from the rollups (which the group days and histograms already count).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 18:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db.citus import distribute_new_tenant_table, has_citus
from migrations.rls import enable_tenant_rls

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "analytics_counted_rollups"
ROLLUPS = "analytics_shipment_rollups"
COLUMNS = (
    "tenant_id, shipment_id, carrier, service, origin_country, destination_country, shipped_at, delivered_at, "
    "promised_delivery, transit_hours, label_to_scan_hours, first_attempt, had_exception, returned"
)


def upgrade() -> None:
    if has_citus(op.get_bind()):
        # One connection per node for the whole transaction: the new table gets a foreign key to a reference table,
        # and Citus refuses to write to it after a parallel operation (its shards' creation) in the same transaction.
        op.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    op.create_table(TABLE,
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('shipment_id', sa.UUID(), nullable=False),
    sa.Column('carrier', sa.String(length=50), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=True),
    sa.Column('origin_country', sa.String(length=2), nullable=True),
    sa.Column('destination_country', sa.String(length=2), nullable=True),
    sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('promised_delivery', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transit_hours', sa.Float(), nullable=True),
    sa.Column('label_to_scan_hours', sa.Float(), nullable=True),
    sa.Column('first_attempt', sa.Boolean(), nullable=False),
    sa.Column('had_exception', sa.Boolean(), nullable=False),
    sa.Column('returned', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'shipment_id', name=op.f('pk_analytics_counted_rollups'))
    )
    distribute_new_tenant_table(op.get_bind(), TABLE)
    op.create_foreign_key(op.f('fk_analytics_counted_rollups_tenant_id_tenants'), TABLE, 'tenants', ['tenant_id'], ['id'],
                          ondelete='CASCADE')
    op.create_foreign_key(op.f('fk_analytics_counted_rollups_tenant_id_shipment_id_shipments'), TABLE, 'shipments',
                          ['tenant_id', 'shipment_id'], ['tenant_id', 'id'], ondelete='CASCADE')
    enable_tenant_rls(TABLE)
    # FORCEd row-level security holds a non-superuser owner too (managed PostgreSQL): lifted for the copy, as in 0005.
    op.execute(f"ALTER TABLE {TABLE} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {ROLLUPS} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {ROLLUPS}")
    op.execute(f"ALTER TABLE {ROLLUPS} FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_table(TABLE)
