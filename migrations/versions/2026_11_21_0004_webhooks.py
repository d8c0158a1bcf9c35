"""webhooks: endpoints, deliveries, attempts, inbound pushes, unmatched updates; shipments.next_track_at; RLS and the worker's claim functions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 20:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import APP_ROLE, disable_tenant_rls, enable_tenant_rls

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKER_ROLE = "courier_hub_worker"
"""NOLOGIN role owning the SECURITY DEFINER functions that find work across tenants (due deliveries,
due shipments, the tenant of an inbound push); it can read and stamp only the columns they need."""

TABLES = ("webhook_endpoints", "webhook_deliveries", "delivery_attempts", "inbound_webhooks", "unmatched_tracking_updates")
FUNCTIONS = (
    "webhook_claim_deliveries(integer, double precision, uuid)",
    "tracking_claim_shipments(integer, double precision)",
    "inbound_integration_tenant(uuid, text)",
)


def upgrade() -> None:
    op.create_table('inbound_webhooks',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('carrier', sa.String(length=50), nullable=False),
    sa.Column('integration_id', sa.UUID(), nullable=False),
    sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('tracking_numbers', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('processed', 'partially_matched', 'unmatched')", name=op.f('ck_inbound_webhooks_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_inbound_webhooks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_inbound_webhooks'))
    )
    op.create_index('ix_inbound_webhooks_tenant_id_integration_id_id', 'inbound_webhooks', ['tenant_id', 'integration_id', 'id'], unique=False)
    op.create_table('webhook_endpoints',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('event_types', postgresql.ARRAY(sa.String(length=100)), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('disabled_reason', sa.String(length=16), nullable=True),
    sa.Column('secret_ciphertext', sa.Text(), nullable=False),
    sa.Column('previous_secret_ciphertext', sa.Text(), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("disabled_reason IN ('manual', 'gone', 'failing')", name=op.f('ck_webhook_endpoints_disabled_reason')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_webhook_endpoints_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_webhook_endpoints'))
    )
    op.create_table('unmatched_tracking_updates',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('inbound_webhook_id', sa.UUID(), nullable=False),
    sa.Column('carrier', sa.String(length=50), nullable=False),
    sa.Column('tracking_number', sa.String(length=64), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'inbound_webhook_id'], ['inbound_webhooks.tenant_id', 'inbound_webhooks.id'], name=op.f('fk_unmatched_tracking_updates_tenant_id_inbound_webhook_id_inbound_webhooks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_unmatched_tracking_updates_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_unmatched_tracking_updates'))
    )
    op.create_index('ix_unmatched_tracking_updates_tenant_id_carrier_tracking_number', 'unmatched_tracking_updates', ['tenant_id', 'carrier', 'tracking_number'], unique=False)
    op.create_table('webhook_deliveries',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('endpoint_id', sa.UUID(), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_token', sa.UUID(), nullable=True),
    sa.Column('attempt_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('cycle_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f('ck_webhook_deliveries_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'endpoint_id'], ['webhook_endpoints.tenant_id', 'webhook_endpoints.id'], name=op.f('fk_webhook_deliveries_tenant_id_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'event_id'], ['integration_events.tenant_id', 'integration_events.id'], name=op.f('fk_webhook_deliveries_tenant_id_event_id_integration_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_webhook_deliveries_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('tenant_id', 'endpoint_id', 'event_id', name=op.f('uq_webhook_deliveries_tenant_id_endpoint_id_event_id'))
    )
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_webhook_deliveries_tenant_id_endpoint_id_id', 'webhook_deliveries', ['tenant_id', 'endpoint_id', 'id'], unique=False)
    op.create_table('delivery_attempts',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('delivery_id', sa.UUID(), nullable=False),
    sa.Column('endpoint_id', sa.UUID(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'delivery_id'], ['webhook_deliveries.tenant_id', 'webhook_deliveries.id'], name=op.f('fk_delivery_attempts_tenant_id_delivery_id_webhook_deliveries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_delivery_attempts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_delivery_attempts'))
    )
    op.create_index('ix_delivery_attempts_tenant_id_delivery_id_id', 'delivery_attempts', ['tenant_id', 'delivery_id', 'id'], unique=False)
    op.add_column('integrations', sa.Column('webhook_secret_ciphertext', sa.Text(), nullable=True))
    op.add_column('shipments', sa.Column('next_track_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_shipments_next_track_at', 'shipments', ['next_track_at'], unique=False, postgresql_where=sa.text('next_track_at IS NOT NULL'))

    for table in TABLES:
        enable_tenant_rls(table)
    # Open shipments that exist already get refreshed by the worker soon. FORCE
    # ROW LEVEL SECURITY binds the owner too, so lift it for this one statement.
    op.execute("ALTER TABLE shipments NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE shipments SET next_track_at = now() WHERE status NOT IN ('delivered', 'returned', 'cancelled')")
    op.execute("ALTER TABLE shipments FORCE ROW LEVEL SECURITY")
    _worker_functions()


def downgrade() -> None:
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for table, policy in (("webhook_deliveries", "worker_claim"), ("shipments", "worker_claim"), ("integrations", "worker_inbound")):
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
    op.execute(f"REVOKE ALL ON webhook_deliveries, shipments, integrations FROM {WORKER_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {WORKER_ROLE}")
    for table in TABLES:
        disable_tenant_rls(table)
    op.drop_index('ix_shipments_next_track_at', table_name='shipments', postgresql_where=sa.text('next_track_at IS NOT NULL'))
    op.drop_column('shipments', 'next_track_at')
    op.drop_column('integrations', 'webhook_secret_ciphertext')
    op.drop_index('ix_delivery_attempts_tenant_id_delivery_id_id', table_name='delivery_attempts')
    op.drop_table('delivery_attempts')
    op.drop_index('ix_webhook_deliveries_tenant_id_endpoint_id_id', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('webhook_deliveries')
    op.drop_index('ix_unmatched_tracking_updates_tenant_id_carrier_tracking_number', table_name='unmatched_tracking_updates')
    op.drop_table('unmatched_tracking_updates')
    op.drop_table('webhook_endpoints')
    op.drop_index('ix_inbound_webhooks_tenant_id_integration_id_id', table_name='inbound_webhooks')
    op.drop_table('inbound_webhooks')


def _worker_functions() -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{WORKER_ROLE}') THEN
                CREATE ROLE {WORKER_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
            END IF;
        END
        $$;
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {WORKER_ROLE}")
    op.execute(
        f"GRANT SELECT (tenant_id, id, status, next_attempt_at), UPDATE (next_attempt_at, claim_token) "
        f"ON webhook_deliveries TO {WORKER_ROLE}"
    )
    op.execute(
        f"GRANT SELECT (tenant_id, id, carrier, integration_id, next_track_at), UPDATE (next_track_at) ON shipments TO {WORKER_ROLE}"
    )
    op.execute(f"GRANT SELECT (tenant_id, id, carrier, is_active) ON integrations TO {WORKER_ROLE}")
    op.execute(f"CREATE POLICY worker_claim ON webhook_deliveries TO {WORKER_ROLE} USING (true) WITH CHECK (true)")
    op.execute(f"CREATE POLICY worker_claim ON shipments TO {WORKER_ROLE} USING (true) WITH CHECK (true)")
    op.execute(f"CREATE POLICY worker_inbound ON integrations FOR SELECT TO {WORKER_ROLE} USING (true)")
    # Claim up to p_limit due deliveries of any tenant: each is leased (next_attempt_at
    # moves p_lease_seconds ahead, so a crashed worker's claim comes due again) and
    # stamped with the caller's token. SKIP LOCKED: concurrent workers never claim one row twice.
    op.execute(
        """
        CREATE FUNCTION webhook_claim_deliveries(p_limit integer, p_lease_seconds double precision, p_token uuid)
        RETURNS TABLE (tenant_id uuid, id uuid)
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$
            WITH due AS (
                SELECT q.tenant_id, q.id FROM webhook_deliveries q
                WHERE q.status = 'pending' AND q.next_attempt_at <= clock_timestamp()
                ORDER BY q.next_attempt_at
                LIMIT p_limit
                FOR UPDATE SKIP LOCKED
            )
            UPDATE webhook_deliveries d
            SET next_attempt_at = clock_timestamp() + make_interval(secs => p_lease_seconds), claim_token = p_token
            FROM due WHERE d.tenant_id = due.tenant_id AND d.id = due.id
            RETURNING d.tenant_id, d.id
        $$
        """
    )
    # Claim up to p_limit shipments due for a scheduled refresh, leased the same way.
    op.execute(
        """
        CREATE FUNCTION tracking_claim_shipments(p_limit integer, p_lease_seconds double precision)
        RETURNS TABLE (tenant_id uuid, id uuid, carrier varchar, integration_id uuid)
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$
            WITH due AS (
                SELECT q.tenant_id, q.id FROM shipments q
                WHERE q.next_track_at <= clock_timestamp()
                ORDER BY q.next_track_at
                LIMIT p_limit
                FOR UPDATE SKIP LOCKED
            )
            UPDATE shipments s
            SET next_track_at = clock_timestamp() + make_interval(secs => p_lease_seconds)
            FROM due WHERE s.tenant_id = due.tenant_id AND s.id = due.id
            RETURNING s.tenant_id, s.id, s.carrier, s.integration_id
        $$
        """
    )
    # The tenant of an active integration of `carrier`, for POST /v1/inbound/{carrier}/{integration_id}
    # (the push carries no API key; the carrier's signature is checked once the tenant is known).
    op.execute(
        """
        CREATE FUNCTION inbound_integration_tenant(p_integration_id uuid, p_carrier text)
        RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$
            SELECT i.tenant_id FROM integrations i
            WHERE i.id = p_integration_id AND i.carrier = p_carrier AND i.is_active
            LIMIT 1
        $$
        """
    )
    op.execute(f"GRANT {WORKER_ROLE} TO CURRENT_USER")
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} OWNER TO {WORKER_ROLE}")
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {APP_ROLE}")
