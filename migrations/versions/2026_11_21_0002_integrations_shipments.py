"""integrations (encrypted carrier credentials), shipments, tracking events, RLS

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 14:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import APP_ROLE, enable_tenant_rls

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("integrations", "shipments", "tracking_events")


def upgrade() -> None:
    op.create_table('integrations',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('carrier', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('credentials_ciphertext', sa.Text(), nullable=False),
    sa.Column('last_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_check_status', sa.String(length=16), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("environment IN ('sandbox', 'production')", name=op.f('ck_integrations_environment')),
    sa.CheckConstraint("last_check_status IN ('ok', 'failed')", name=op.f('ck_integrations_last_check_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_integrations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_integrations'))
    )
    # One active integration per (tenant, carrier, name); inactive ones may repeat.
    op.create_index('uq_integrations_tenant_id_carrier_name_active', 'integrations', ['tenant_id', 'carrier', 'name'], unique=True, postgresql_where=sa.text('is_active'))
    op.create_table('shipments',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('carrier', sa.String(length=50), nullable=False),
    sa.Column('tracking_number', sa.String(length=64), nullable=False),
    sa.Column('integration_id', sa.UUID(), nullable=True),
    sa.Column('order_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.String(length=32), server_default='pending', nullable=False),
    sa.Column('estimated_delivery', sa.DateTime(timezone=True), nullable=True),
    sa.Column('service_point', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('last_tracked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_change_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'integration_id'], ['integrations.tenant_id', 'integrations.id'], name=op.f('fk_shipments_tenant_id_integration_id_integrations')),
    sa.ForeignKeyConstraint(['tenant_id', 'order_id'], ['pos_orders.tenant_id', 'pos_orders.id'], name=op.f('fk_shipments_tenant_id_order_id_pos_orders')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_shipments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('tenant_id', 'carrier', 'tracking_number', name=op.f('uq_shipments_tenant_id_carrier_tracking_number'))
    )
    op.create_index('ix_shipments_tenant_id_integration_id', 'shipments', ['tenant_id', 'integration_id'], unique=False)
    op.create_index('ix_shipments_tenant_id_order_id', 'shipments', ['tenant_id', 'order_id'], unique=False)
    op.create_index('ix_shipments_tenant_id_status_id', 'shipments', ['tenant_id', 'status', 'id'], unique=False)
    op.create_table('tracking_events',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('shipment_id', sa.UUID(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('carrier_code', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('city', sa.Text(), nullable=True),
    sa.Column('postal_code', sa.Text(), nullable=True),
    sa.Column('country', sa.Text(), nullable=True),
    sa.Column('service_point', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('identity', sa.Text(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'shipment_id'], ['shipments.tenant_id', 'shipments.id'], name=op.f('fk_tracking_events_tenant_id_shipment_id_shipments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tracking_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_tracking_events')),
    sa.UniqueConstraint('tenant_id', 'shipment_id', 'identity', name=op.f('uq_tracking_events_tenant_id_shipment_id_identity'))
    )
    op.create_index('ix_tracking_events_tenant_id_shipment_id_occurred_at', 'tracking_events', ['tenant_id', 'shipment_id', 'occurred_at'], unique=False)

    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    # Dropping a table drops its policies; only the grants need revoking first.
    for table in reversed(TABLES):
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.drop_index('ix_tracking_events_tenant_id_shipment_id_occurred_at', table_name='tracking_events')
    op.drop_table('tracking_events')
    op.drop_index('ix_shipments_tenant_id_status_id', table_name='shipments')
    op.drop_index('ix_shipments_tenant_id_order_id', table_name='shipments')
    op.drop_index('ix_shipments_tenant_id_integration_id', table_name='shipments')
    op.drop_table('shipments')
    op.drop_index('uq_integrations_tenant_id_carrier_name_active', table_name='integrations', postgresql_where=sa.text('is_active'))
    op.drop_table('integrations')
