"""billing: plans (seeded), tenant subscriptions, usage counters, processed Stripe events, RLS

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import APP_ROLE, enable_tenant_rls

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BILLING_ROLE = "courier_hub_billing"
"""NOLOGIN role that owns the SECURITY DEFINER Stripe-customer lookup and can read only that column pair."""

TENANT_TABLES = ("tenant_subscriptions", "usage_counters")

# Requests per minute per API key / per tenant, shipments per month, webhook
# endpoints, carriers (None = unlimited). Stripe price ids are account-specific:
# platform admins set them with PATCH /v1/plans/{code}.
SEED_PLANS = [
    {"code": "free", "name": "Free", "requests_per_minute_per_key": 60, "requests_per_minute_per_tenant": 120,
     "shipments_per_month": 100, "webhook_endpoints": 1, "carriers": 2, "sort_order": 0},
    {"code": "starter", "name": "Starter", "requests_per_minute_per_key": 300, "requests_per_minute_per_tenant": 600,
     "shipments_per_month": 2000, "webhook_endpoints": 5, "carriers": 5, "sort_order": 10},
    {"code": "growth", "name": "Growth", "requests_per_minute_per_key": 1200, "requests_per_minute_per_tenant": 3000,
     "shipments_per_month": 25000, "webhook_endpoints": 20, "carriers": None, "sort_order": 20},
]


def upgrade() -> None:
    plans = op.create_table('plans',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('stripe_price_id', sa.String(length=255), nullable=True),
    sa.Column('requests_per_minute_per_key', sa.Integer(), nullable=False),
    sa.Column('requests_per_minute_per_tenant', sa.Integer(), nullable=False),
    sa.Column('shipments_per_month', sa.Integer(), nullable=True),
    sa.Column('webhook_endpoints', sa.Integer(), nullable=True),
    sa.Column('carriers', sa.Integer(), nullable=True),
    sa.Column('sort_order', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_plans')),
    sa.UniqueConstraint('stripe_price_id', name=op.f('uq_plans_stripe_price_id'))
    )
    op.bulk_insert(plans, SEED_PLANS)
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('stripe_created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    op.create_table('tenant_subscriptions',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('plan_code', sa.String(length=32), server_default='free', nullable=False),
    sa.Column('subscribed_plan_code', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=32), server_default='none', nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_price_id', sa.String(length=255), nullable=True),
    sa.Column('current_period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('past_due_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('grace_ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stripe_state_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['plan_code'], ['plans.code'], name=op.f('fk_tenant_subscriptions_plan_code_plans')),
    sa.ForeignKeyConstraint(['subscribed_plan_code'], ['plans.code'], name=op.f('fk_tenant_subscriptions_subscribed_plan_code_plans')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_subscriptions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_tenant_subscriptions'))
    )
    op.create_index('ix_tenant_subscriptions_stripe_customer_id', 'tenant_subscriptions', ['stripe_customer_id'], unique=False)
    op.create_table('usage_counters',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_usage_counters_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'metric', 'period_start', name=op.f('pk_usage_counters'))
    )

    for table in TENANT_TABLES:
        enable_tenant_rls(table, privileges="SELECT, INSERT, UPDATE")
    _plans_rls()
    # Global, written by the unauthenticated (signed) Stripe webhook before any tenant is known.
    op.execute(f"GRANT SELECT, INSERT, UPDATE (outcome) ON stripe_events TO {APP_ROLE}")
    _customer_lookup()


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS billing_tenant_for_stripe_customer(text)")
    for table in ("plans", "stripe_events", *TENANT_TABLES):
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}, {BILLING_ROLE}")
    op.drop_table('usage_counters')
    op.drop_index('ix_tenant_subscriptions_stripe_customer_id', table_name='tenant_subscriptions')
    op.drop_table('tenant_subscriptions')
    op.drop_table('stripe_events')
    op.drop_table('plans')
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {BILLING_ROLE}")


def _plans_rls() -> None:
    # A reference table: everyone reads it; the app role writes it only in a
    # platform-admin transaction (app.platform_admin = on). Not FORCEd: the
    # owner (migrations, operators) edits it directly.
    admin = "current_setting('app.platform_admin', true) = 'on'"
    op.execute("ALTER TABLE plans ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY plans_read ON plans FOR SELECT USING (true)")
    op.execute(f"CREATE POLICY plans_admin_insert ON plans FOR INSERT WITH CHECK ({admin})")
    op.execute(f"CREATE POLICY plans_admin_update ON plans FOR UPDATE USING ({admin}) WITH CHECK ({admin})")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON plans TO {APP_ROLE}")


def _customer_lookup() -> None:
    # Stripe events name a customer, not a tenant, when the subscription lacks
    # our metadata. This one narrow function maps customer -> tenant across
    # tenants; its owner can read only those two columns.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{BILLING_ROLE}') THEN
                CREATE ROLE {BILLING_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
            END IF;
        END
        $$;
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {BILLING_ROLE}")
    op.execute(f"GRANT SELECT (tenant_id, stripe_customer_id) ON tenant_subscriptions TO {BILLING_ROLE}")
    op.execute(f"CREATE POLICY billing_customer_lookup ON tenant_subscriptions FOR SELECT TO {BILLING_ROLE} USING (true)")
    op.execute(
        """
        CREATE FUNCTION billing_tenant_for_stripe_customer(p_customer_id text)
        RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$
            SELECT s.tenant_id FROM tenant_subscriptions s WHERE s.stripe_customer_id = p_customer_id LIMIT 1
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION billing_tenant_for_stripe_customer(text) FROM PUBLIC")
    op.execute(f"GRANT {BILLING_ROLE} TO CURRENT_USER")
    op.execute(f"ALTER FUNCTION billing_tenant_for_stripe_customer(text) OWNER TO {BILLING_ROLE}")
    op.execute(f"GRANT EXECUTE ON FUNCTION billing_tenant_for_stripe_customer(text) TO {APP_ROLE}")
