"""platform administration: tenant status and shipper, plan overrides, admin keys over the API, audit log, retention

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 16:00:00.000000

* `tenants` gets `status` (active | suspended | deleted), `shipper_address`
  (JSONB, the default label shipper), `updated_at`, `deleted_at` and
  `purged_at` (set by the worker once a deleted tenant's rows are gone).
* `auth_resolve_api_key` also returns the key's tenant status (suspended keys
  are refused with 403 by the API; keys of deleted tenants resolve to nothing),
  and applies a tenant's plan override and limit overrides
  (`tenant_plan_overrides`) before the Stripe subscription.
* The worker's claim functions skip tenants whose status is not `active`.
* `audit_log` (tenant table) and `platform_audit_log` (global): the app role
  may INSERT and SELECT, never UPDATE or DELETE. `audit_redact_tenant` (owned
  by the migration role) blanks the client addresses of a deleted tenant's rows;
  `tenant_purge_billing` deletes a deleted tenant's billing rows (which the app
  role may not DELETE).
* `retention_settings`: per-tenant retention periods in days (no row = defaults).
* Platform-admin keys readable and issuable by the app role in a
  platform-admin transaction (RLS on `app.platform_admin`); the key hash stays unreadable.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import APP_ROLE, AUTH_ROLE, enable_tenant_rls

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKER_ROLE = "courier_hub_worker"
ADMIN_EXPR = "current_setting('app.platform_admin', true) = 'on'"

# ----------------------------------------------------------------------------- the key resolver

_PLAN_OF = """
        SELECT pl.* FROM plans pl
        WHERE k.tenant_id IS NOT NULL
          AND pl.code IN ('free', CASE
                WHEN o.plan_code IS NOT NULL THEN o.plan_code
                WHEN s.subscribed_plan_code IS NULL THEN 'free'
                WHEN s.status IN ('active', 'trialing') THEN s.subscribed_plan_code
                WHEN s.status = 'past_due' AND s.grace_ends_at > now() THEN s.subscribed_plan_code
                ELSE 'free' END)
        ORDER BY pl.code = 'free'
        LIMIT 1
"""

_RESOLVER = f"""
CREATE FUNCTION auth_resolve_api_key(p_key_hash text)
RETURNS TABLE (key_id uuid, tenant_id uuid, role text, key_name text, plan_code text,
               requests_per_minute_per_key integer, requests_per_minute_per_tenant integer, tenant_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT k.key_id, k.tenant_id, k.role::text, k.name::text, p.code::text,
           COALESCE((o.limits ->> 'requests_per_minute_per_key')::integer, p.requests_per_minute_per_key),
           COALESCE((o.limits ->> 'requests_per_minute_per_tenant')::integer, p.requests_per_minute_per_tenant),
           t.status::text
    FROM api_key_lookup k
    LEFT JOIN tenants t ON k.tenant_id IS NOT NULL AND t.id = k.tenant_id
    LEFT JOIN tenant_subscriptions s ON k.tenant_id IS NOT NULL AND s.tenant_id = k.tenant_id
    -- billing.models.PlanOverride.active: an override wins over Stripe until `until`.
    LEFT JOIN tenant_plan_overrides o ON k.tenant_id IS NOT NULL AND o.tenant_id = k.tenant_id
          AND (o.until IS NULL OR o.until > now())
    LEFT JOIN LATERAL ({_PLAN_OF}) p ON true
    WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
      AND (k.tenant_id IS NULL OR t.status IN ('active', 'suspended'))
$$
"""

_OLD_RESOLVER = """
CREATE FUNCTION auth_resolve_api_key(p_key_hash text)
RETURNS TABLE (key_id uuid, tenant_id uuid, role text, key_name text, plan_code text,
               requests_per_minute_per_key integer, requests_per_minute_per_tenant integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT k.key_id, k.tenant_id, k.role::text, k.name::text, p.code::text,
           p.requests_per_minute_per_key, p.requests_per_minute_per_tenant
    FROM api_key_lookup k
    LEFT JOIN tenant_subscriptions s ON k.tenant_id IS NOT NULL AND s.tenant_id = k.tenant_id
    LEFT JOIN LATERAL (
        SELECT pl.* FROM plans pl
        WHERE k.tenant_id IS NOT NULL
          AND pl.code IN ('free', CASE
                WHEN s.subscribed_plan_code IS NULL THEN 'free'
                WHEN s.status IN ('active', 'trialing') THEN s.subscribed_plan_code
                WHEN s.status = 'past_due' AND s.grace_ends_at > now() THEN s.subscribed_plan_code
                ELSE 'free' END)
        ORDER BY pl.code = 'free'
        LIMIT 1
    ) p ON true
    WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
$$
"""


def _install_resolver(sql: str) -> None:
    op.execute("DROP FUNCTION auth_resolve_api_key(text)")
    op.execute(sql)
    op.execute("REVOKE ALL ON FUNCTION auth_resolve_api_key(text) FROM PUBLIC")
    op.execute(f"ALTER FUNCTION auth_resolve_api_key(text) OWNER TO {AUTH_ROLE}")
    op.execute(f"GRANT EXECUTE ON FUNCTION auth_resolve_api_key(text) TO {APP_ROLE}")


# ----------------------------------------------------------------------------- the worker's claim functions

_ACTIVE_TENANT = "AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = q.tenant_id AND t.status = 'active')"

_CLAIMS = {
    "webhook_claim_deliveries": (
        "(p_limit integer, p_lease_seconds double precision, p_token uuid)",
        "RETURNS TABLE (tenant_id uuid, id uuid)",
        True,
        """
    WITH due AS (
        SELECT q.tenant_id, q.id FROM webhook_deliveries q
        WHERE q.status = 'pending' AND q.next_attempt_at <= clock_timestamp() {active}
        ORDER BY q.next_attempt_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE webhook_deliveries d
    SET next_attempt_at = clock_timestamp() + make_interval(secs => p_lease_seconds), claim_token = p_token
    FROM due WHERE d.tenant_id = due.tenant_id AND d.id = due.id
    RETURNING d.tenant_id, d.id""",
    ),
    "tracking_claim_shipments": (
        "(p_limit integer, p_lease_seconds double precision)",
        "RETURNS TABLE (tenant_id uuid, id uuid, carrier varchar, integration_id uuid)",
        False,
        """
    WITH due AS (
        SELECT q.tenant_id, q.id FROM shipments q
        WHERE q.next_track_at <= clock_timestamp() {active}
        ORDER BY q.next_track_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE shipments s
    SET next_track_at = clock_timestamp() + make_interval(secs => p_lease_seconds)
    FROM due WHERE s.tenant_id = due.tenant_id AND s.id = due.id
    RETURNING s.tenant_id, s.id, s.carrier, s.integration_id""",
    ),
    "label_batch_claim_items": (
        "(p_limit integer, p_lease_seconds double precision)",
        "RETURNS TABLE (tenant_id uuid, id uuid, batch_id uuid, carrier varchar)",
        False,
        """
    WITH due AS (
        SELECT q.tenant_id, q.id FROM label_batch_items q
        WHERE q.status = 'queued' AND q.next_attempt_at <= clock_timestamp() {active}
        ORDER BY q.next_attempt_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE label_batch_items i
    SET next_attempt_at = clock_timestamp() + make_interval(secs => p_lease_seconds)
    FROM due WHERE i.tenant_id = due.tenant_id AND i.id = due.id
    RETURNING i.tenant_id, i.id, i.batch_id, i.carrier""",
    ),
}


def _guards(function: str, *, token: bool) -> str:
    """The argument checks of revision 0009 (CLAIM_LIMIT_MAX 1000 rows, CLAIM_LEASE_MAX_SECONDS 3600)."""
    checks = f"""
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 1000 THEN
        RAISE EXCEPTION '{function}: p_limit must be 1..1000 rows, got %', coalesce(p_limit::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- NaN compares greater than every number in PostgreSQL, so "<= max" also refuses it.
    IF p_lease_seconds IS NULL OR NOT (p_lease_seconds > 0 AND p_lease_seconds <= 3600) THEN
        RAISE EXCEPTION '{function}: p_lease_seconds must be above 0 and at most 3600, got %',
            coalesce(p_lease_seconds::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;"""
    if token:
        checks += f"""
    IF p_token IS NULL THEN
        RAISE EXCEPTION '{function}: p_token must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;"""
    return checks


def _claim_function(name: str, *, active_only: bool) -> str:
    arguments, returns, token, query = _CLAIMS[name]
    body = query.format(active=_ACTIVE_TENANT if active_only else "")
    return (
        f"CREATE OR REPLACE FUNCTION {name}{arguments}\n{returns}\n"
        "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp\nAS $$\n"
        "#variable_conflict use_column\nBEGIN"
        + _guards(name, token=token)
        + "\n    RETURN QUERY"
        + body.rstrip()
        + ";\nEND\n$$"
    )


# ----------------------------------------------------------------------------- audit redaction

_REDACT = """
CREATE FUNCTION audit_redact_tenant(p_tenant_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    redacted integer;
BEGIN
    -- Only a deleted tenant's entries; the rows (who did what, when) stay, the client addresses go.
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = p_tenant_id AND status = 'deleted') THEN
        RAISE EXCEPTION 'audit_redact_tenant: tenant % is not deleted', p_tenant_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE audit_log SET client_address = NULL
    WHERE tenant_id = p_tenant_id AND client_address IS NOT NULL;
    GET DIAGNOSTICS redacted = ROW_COUNT;
    RETURN redacted;
END
$$
"""


_PURGE_BILLING = """
CREATE FUNCTION tenant_purge_billing(p_tenant_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    subscriptions integer;
    counters integer;
BEGIN
    -- The app role may not DELETE billing rows; a deleted tenant's go with the rest of its data.
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = p_tenant_id AND status = 'deleted') THEN
        RAISE EXCEPTION 'tenant_purge_billing: tenant % is not deleted', p_tenant_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM usage_counters WHERE tenant_id = p_tenant_id;
    GET DIAGNOSTICS counters = ROW_COUNT;
    DELETE FROM tenant_subscriptions WHERE tenant_id = p_tenant_id;
    GET DIAGNOSTICS subscriptions = ROW_COUNT;
    RETURN counters + subscriptions;
END
$$
"""


def _audit_columns() -> list[sa.Column]:
    return [
        sa.Column('actor_key_id', sa.UUID(), nullable=True),
        sa.Column('actor_key_prefix', sa.String(length=32), nullable=True),
        sa.Column('actor_role', sa.String(length=32), nullable=False),
        sa.Column('action', sa.String(length=100), nullable=False),
        sa.Column('target_type', sa.String(length=50), nullable=False),
        sa.Column('target_id', sa.String(length=200), nullable=True),
        sa.Column('changed', postgresql.ARRAY(sa.String(length=100)), server_default='{}', nullable=False),
        sa.Column('request_id', sa.String(length=128), nullable=True),
        sa.Column('client_address', sa.String(length=64), nullable=True),
    ]


def upgrade() -> None:
    # --- tenants: status, default shipper, tombstone times
    op.add_column('tenants', sa.Column('status', sa.String(length=16), server_default='active', nullable=False))
    op.add_column('tenants', sa.Column('shipper_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('tenants', sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.add_column('tenants', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('tenants', sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f('ck_tenants_status'), 'tenants', "status IN ('active', 'suspended', 'deleted')")
    op.create_index('ix_tenants_status', 'tenants', ['status'], unique=False, postgresql_where=sa.text("status <> 'active'"))

    # --- plan overrides
    op.create_table(
        'tenant_plan_overrides',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('plan_code', sa.String(length=32), nullable=False),
        sa.Column('until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('limits', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
        sa.Column('set_by_key_id', sa.UUID(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['plan_code'], ['plans.code'], name=op.f('fk_tenant_plan_overrides_plan_code_plans')),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_plan_overrides_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_tenant_plan_overrides')),
    )
    enable_tenant_rls('tenant_plan_overrides')

    # --- retention settings (days; no row = the defaults)
    op.create_table(
        'retention_settings',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('raw_pos_payload_days', sa.Integer(), server_default='90', nullable=False),
        sa.Column('inbound_push_days', sa.Integer(), server_default='30', nullable=False),
        sa.Column('integration_event_days', sa.Integer(), server_default='400', nullable=False),
        sa.Column('delivered_shipment_event_days', sa.Integer(), server_default='400', nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_retention_settings_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_retention_settings')),
    )
    enable_tenant_rls('retention_settings')

    # --- audit log: append-only for the app role
    op.create_table(
        'audit_log',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        *_audit_columns(),
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_audit_log_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_audit_log')),
    )
    op.create_index('ix_audit_log_tenant_id_action_id', 'audit_log', ['tenant_id', 'action', 'id'], unique=False)
    enable_tenant_rls('audit_log', privileges="SELECT, INSERT")
    # Platform admins read every tenant's entries and record actions on any tenant (still no UPDATE/DELETE grant).
    op.execute(f"CREATE POLICY platform_admin ON audit_log TO {APP_ROLE} USING ({ADMIN_EXPR}) WITH CHECK ({ADMIN_EXPR})")
    op.create_table(
        'platform_audit_log',
        *_audit_columns(),
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_audit_log')),
    )
    op.create_index('ix_platform_audit_log_action_id', 'platform_audit_log', ['action', 'id'], unique=False)
    op.execute("ALTER TABLE platform_audit_log ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE platform_audit_log FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY platform_admin_only ON platform_audit_log USING ({ADMIN_EXPR}) WITH CHECK ({ADMIN_EXPR})")
    op.execute(f"GRANT SELECT, INSERT ON platform_audit_log TO {APP_ROLE}")
    op.execute(_REDACT)
    op.execute("REVOKE ALL ON FUNCTION audit_redact_tenant(uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION audit_redact_tenant(uuid) TO {APP_ROLE}")
    op.execute(_PURGE_BILLING)
    op.execute("REVOKE ALL ON FUNCTION tenant_purge_billing(uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION tenant_purge_billing(uuid) TO {APP_ROLE}")

    # --- the key resolver reads the tenant's status and its plan override
    op.execute(f"GRANT SELECT (id, status) ON tenants TO {AUTH_ROLE}")
    op.execute(f"CREATE POLICY auth_resolve ON tenants FOR SELECT TO {AUTH_ROLE} USING (true)")
    op.execute(f"GRANT SELECT (tenant_id, plan_code, until, limits) ON tenant_plan_overrides TO {AUTH_ROLE}")
    op.execute(f"CREATE POLICY auth_resolve ON tenant_plan_overrides FOR SELECT TO {AUTH_ROLE} USING (true)")
    _install_resolver(_RESOLVER)

    # --- the claim functions skip tenants that are not active
    op.execute(f"GRANT SELECT (id, status) ON tenants TO {WORKER_ROLE}")
    op.execute(f"CREATE POLICY worker_claim ON tenants FOR SELECT TO {WORKER_ROLE} USING (true)")
    for name in _CLAIMS:
        op.execute(_claim_function(name, active_only=True))

    # --- platform-admin keys through the API (platform-admin transactions only; never the hash)
    op.execute("ALTER TABLE platform_api_keys ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY platform_admin_only ON platform_api_keys TO {APP_ROLE} USING ({ADMIN_EXPR}) WITH CHECK ({ADMIN_EXPR})")
    op.execute(f"CREATE POLICY auth_touch ON platform_api_keys TO {AUTH_ROLE} USING (true) WITH CHECK (true)")
    op.execute(
        f"GRANT SELECT (id, name, prefix, created_at, expires_at, revoked_at, last_used_at), "
        f"INSERT (id, name, prefix, key_hash, created_at, expires_at), UPDATE (revoked_at) ON platform_api_keys TO {APP_ROLE}"
    )
    op.execute(
        f"CREATE POLICY platform_admin_keys ON api_key_lookup TO {APP_ROLE} "
        f"USING (tenant_id IS NULL AND {ADMIN_EXPR}) "
        f"WITH CHECK (tenant_id IS NULL AND role = 'platform_admin' AND {ADMIN_EXPR})"
    )


def downgrade() -> None:
    op.execute("DROP POLICY platform_admin_keys ON api_key_lookup")
    op.execute(f"REVOKE ALL ON platform_api_keys FROM {APP_ROLE}")
    op.execute("DROP POLICY auth_touch ON platform_api_keys")
    op.execute("DROP POLICY platform_admin_only ON platform_api_keys")
    op.execute("ALTER TABLE platform_api_keys DISABLE ROW LEVEL SECURITY")

    for name in _CLAIMS:
        op.execute(_claim_function(name, active_only=False))
    op.execute("DROP POLICY worker_claim ON tenants")
    op.execute(f"REVOKE ALL ON tenants FROM {WORKER_ROLE}")

    _install_resolver(_OLD_RESOLVER)
    op.execute("DROP POLICY auth_resolve ON tenants")
    op.execute(f"REVOKE ALL ON tenants FROM {AUTH_ROLE}")

    op.execute("DROP FUNCTION tenant_purge_billing(uuid)")
    op.execute("DROP FUNCTION audit_redact_tenant(uuid)")
    op.execute(f"REVOKE ALL ON platform_audit_log, audit_log, retention_settings, tenant_plan_overrides FROM {APP_ROLE}, {AUTH_ROLE}")
    op.drop_index('ix_platform_audit_log_action_id', table_name='platform_audit_log')
    op.drop_table('platform_audit_log')
    op.drop_index('ix_audit_log_tenant_id_action_id', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('retention_settings')
    op.drop_table('tenant_plan_overrides')

    op.drop_index('ix_tenants_status', table_name='tenants')
    op.drop_constraint(op.f('ck_tenants_status'), 'tenants', type_='check')
    for column in ('purged_at', 'deleted_at', 'updated_at', 'shipper_address', 'status'):
        op.drop_column('tenants', column)
