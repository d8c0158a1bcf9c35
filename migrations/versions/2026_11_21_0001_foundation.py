"""foundation: tenants, API keys, POS orders, idempotency keys, integration events, RLS

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 09:08:01.981491
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import APP_ROLE, AUTH_ROLE, TENANT_ID_EXPR, enable_tenant_rls, ensure_roles

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ensure_roles()
    op.create_table('platform_api_keys',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_platform_api_keys_key_hash')),
    sa.UniqueConstraint('prefix', name=op.f('uq_platform_api_keys_prefix'))
    )
    op.create_table('tenants',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('slug', name=op.f('uq_tenants_slug'))
    )
    op.create_table('api_keys',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('tenant_admin', 'merchant', 'courier')", name=op.f('ck_api_keys_role')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_keys_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('tenant_id', 'prefix', name=op.f('uq_api_keys_tenant_id_prefix'))
    )
    op.create_index('ix_api_keys_key_hash', 'api_keys', ['key_hash'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_method', sa.String(length=10), nullable=False),
    sa.Column('request_path', sa.String(length=500), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_status', sa.SmallInteger(), nullable=True),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('in_flight', 'completed')", name=op.f('ck_idempotency_keys_state')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_idempotency_keys_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_idempotency_keys_tenant_id_key'))
    )
    op.create_index('ix_idempotency_keys_tenant_id_expires_at', 'idempotency_keys', ['tenant_id', 'expires_at'], unique=False)
    op.create_table('integration_events',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('subject_type', sa.String(length=50), nullable=False),
    sa.Column('subject_id', sa.UUID(), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_integration_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_integration_events'))
    )
    op.create_index('ix_integration_events_tenant_id_type_id', 'integration_events', ['tenant_id', 'type', 'id'], unique=False)
    op.create_table('pos_orders',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('source', sa.String(length=50), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('order_number', sa.String(length=100), nullable=True),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('customer', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('shipping_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('line_items', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=True),
    sa.Column('shipping_total', sa.BigInteger(), nullable=True),
    sa.Column('tax_total', sa.BigInteger(), nullable=True),
    sa.Column('discount_total', sa.BigInteger(), nullable=True),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('financial_status', sa.String(length=50), nullable=True),
    sa.Column('test', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('raw_payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_pos_orders_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_pos_orders')),
    sa.UniqueConstraint('tenant_id', 'source', 'external_id', name=op.f('uq_pos_orders_tenant_id_source_external_id'))
    )
    op.create_index('ix_pos_orders_tenant_id_source_id', 'pos_orders', ['tenant_id', 'source', 'id'], unique=False)

    for table in ("api_keys", "idempotency_keys", "integration_events", "pos_orders"):
        enable_tenant_rls(table)
    _tenants_rls()
    _api_key_resolver()
    # /readyz compares the schema revision with the code's head as the app role.
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS auth_resolve_api_key(text)")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}, {AUTH_ROLE}")
    op.drop_index('ix_pos_orders_tenant_id_source_id', table_name='pos_orders')
    op.drop_table('pos_orders')
    op.drop_index('ix_integration_events_tenant_id_type_id', table_name='integration_events')
    op.drop_table('integration_events')
    op.drop_index('ix_idempotency_keys_tenant_id_expires_at', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    op.drop_index('ix_api_keys_key_hash', table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_table('tenants')
    op.drop_table('platform_api_keys')
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}, {AUTH_ROLE}")


def _tenants_rls() -> None:
    # A tenant sees its own row; platform admins (app.platform_admin = on) see
    # and create all. Anything else sees nothing.
    op.execute("ALTER TABLE tenants ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants FORCE ROW LEVEL SECURITY")
    admin = "current_setting('app.platform_admin', true) = 'on'"
    op.execute(f"CREATE POLICY tenant_isolation ON tenants USING (id = {TENANT_ID_EXPR} OR {admin}) WITH CHECK ({admin})")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON tenants TO {APP_ROLE}")


def _api_key_resolver() -> None:
    # The one narrow path that reads keys before the tenant is known. It runs as
    # AUTH_ROLE, which may only read keys (and stamp last_used_at) and owns nothing else.
    op.execute(f"GRANT SELECT, UPDATE (last_used_at) ON api_keys, platform_api_keys TO {AUTH_ROLE}")
    op.execute(f"CREATE POLICY auth_resolve ON api_keys FOR SELECT TO {AUTH_ROLE} USING (true)")
    op.execute(f"CREATE POLICY auth_touch ON api_keys FOR UPDATE TO {AUTH_ROLE} USING (true) WITH CHECK (true)")
    op.execute(
        """
        CREATE FUNCTION auth_resolve_api_key(p_key_hash text)
        RETURNS TABLE (key_id uuid, tenant_id uuid, role text, key_name text)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
        AS $$
        #variable_conflict use_column
        BEGIN
            -- last_used_at is stamped at most once a minute per key to spare writes.
            UPDATE api_keys SET last_used_at = now()
                WHERE key_hash = p_key_hash AND revoked_at IS NULL
                  AND (expires_at IS NULL OR expires_at > now())
                  AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds');
            RETURN QUERY
                SELECT k.id, k.tenant_id, k.role::text, k.name::text FROM api_keys k
                WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL
                  AND (k.expires_at IS NULL OR k.expires_at > now());
            IF FOUND THEN RETURN; END IF;
            UPDATE platform_api_keys SET last_used_at = now()
                WHERE key_hash = p_key_hash AND revoked_at IS NULL
                  AND (expires_at IS NULL OR expires_at > now())
                  AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds');
            RETURN QUERY
                SELECT p.id, NULL::uuid, 'platform_admin'::text, p.name::text FROM platform_api_keys p
                WHERE p.key_hash = p_key_hash AND p.revoked_at IS NULL
                  AND (p.expires_at IS NULL OR p.expires_at > now());
        END
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION auth_resolve_api_key(text) FROM PUBLIC")
    op.execute(f"GRANT {AUTH_ROLE} TO CURRENT_USER")
    op.execute(f"ALTER FUNCTION auth_resolve_api_key(text) OWNER TO {AUTH_ROLE}")
    op.execute(f"GRANT EXECUTE ON FUNCTION auth_resolve_api_key(text) TO {APP_ROLE}")
