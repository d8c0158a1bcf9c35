"""request pipeline: API keys resolved from a small lookup table with their plan's limits; one-transaction idempotency

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00.000000

* `api_key_lookup` (global; a Citus reference table): key hash -> key id,
  tenant, role, name, expiry, revocation, for tenant and platform-admin keys.
  Written by the auth service in the transaction that issues or revokes a key.
* `auth_resolve_api_key` reads only that table, the tenant's subscription and
  `plans`, and returns the key with its plan's rate limits in one statement.
  It no longer writes: `last_used_at` is stamped by the API in the request's
  own (tenant-scoped) transaction.
* Idempotency keys are claimed with a transaction-level advisory lock in the
  transaction that does the work (`idempotency_claim`), so a key row exists
  only once its response is stored: `state` and `locked_at` go.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import APP_ROLE, AUTH_ROLE, TENANT_ID_EXPR

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RESOLVER = """
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
        -- billing.models.plan_for_status, in SQL: the subscribed plan while active or
        -- trialing, or past due within grace; otherwise (or if that plan is gone) free.
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

_OLD_RESOLVER = """
CREATE FUNCTION auth_resolve_api_key(p_key_hash text)
RETURNS TABLE (key_id uuid, tenant_id uuid, role text, key_name text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
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

_TOUCH_PLATFORM_KEY = """
CREATE FUNCTION auth_touch_platform_key(p_key_id uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    UPDATE platform_api_keys SET last_used_at = now()
    WHERE id = p_key_id AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
$$
"""

_CLAIM = """
CREATE FUNCTION idempotency_claim(p_tenant_id uuid, p_key text)
RETURNS TABLE (locked boolean, request_hash text, response_status smallint, response_headers jsonb,
               response_body bytea)
LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    -- Held until the transaction ends: a concurrent request under the same key
    -- gets locked = false (409); a failed request releases it by rolling back.
    IF NOT pg_try_advisory_xact_lock(hashtextextended('idempotency:' || p_tenant_id::text || ':' || p_key, 0)) THEN
        RETURN QUERY SELECT false, NULL::text, NULL::smallint, NULL::jsonb, NULL::bytea;
        RETURN;
    END IF;
    -- A new statement, so a new snapshot: a response committed by the request
    -- that held the lock just before us is visible here.
    RETURN QUERY
        SELECT true, k.request_hash::text, k.response_status, k.response_headers, k.response_body
        FROM idempotency_keys k
        WHERE k.tenant_id = p_tenant_id AND k.key = p_key AND k.expires_at > now();
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, NULL::text, NULL::smallint, NULL::jsonb, NULL::bytea;
    END IF;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        'api_key_lookup',
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=True),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(
            "role IN ('platform_admin', 'tenant_admin', 'merchant', 'courier') "
            "AND (role = 'platform_admin') = (tenant_id IS NULL)",
            name=op.f('ck_api_key_lookup_role'),
        ),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_key_lookup_tenant_id_tenants'), ondelete='CASCADE'),
        # A tenant key's row mirrors an api_keys row (and goes with it); platform rows (tenant NULL) are not checked.
        sa.ForeignKeyConstraint(
            ['tenant_id', 'key_id'], ['api_keys.tenant_id', 'api_keys.id'],
            name=op.f('fk_api_key_lookup_tenant_id_api_keys'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('key_hash', name=op.f('pk_api_key_lookup')),
        sa.UniqueConstraint('key_id', name=op.f('uq_api_key_lookup_key_id')),
    )
    # FORCEd RLS applies to the owner too, and no tenant is set here: lift it for the copy
    # (and the in-flight cleanup below) unless the owner bypasses RLS anyway.
    op.execute("ALTER TABLE api_keys NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "INSERT INTO api_key_lookup (key_hash, key_id, tenant_id, role, name, expires_at, revoked_at, created_at) "
        "SELECT key_hash, id, tenant_id, role, name, expires_at, revoked_at, created_at FROM api_keys"
    )
    op.execute("ALTER TABLE api_keys FORCE ROW LEVEL SECURITY")
    op.execute(
        "INSERT INTO api_key_lookup (key_hash, key_id, tenant_id, role, name, expires_at, revoked_at, created_at) "
        "SELECT key_hash, id, NULL, 'platform_admin', name, expires_at, revoked_at, created_at FROM platform_api_keys"
    )
    # Not FORCEd: the owner (CLI) writes platform-admin rows; the app role writes its tenant's rows only.
    op.execute("ALTER TABLE api_key_lookup ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON api_key_lookup TO {APP_ROLE} "
        f"USING (tenant_id = {TENANT_ID_EXPR}) WITH CHECK (tenant_id = {TENANT_ID_EXPR} AND role <> 'platform_admin')"
    )
    op.execute(f"CREATE POLICY auth_resolve ON api_key_lookup FOR SELECT TO {AUTH_ROLE} USING (true)")
    op.execute(f"GRANT INSERT, SELECT (key_id, tenant_id, revoked_at), UPDATE (revoked_at) ON api_key_lookup TO {APP_ROLE}")
    op.execute(f"GRANT SELECT ON api_key_lookup TO {AUTH_ROLE}")

    # The resolver reads the subscription's plan columns and the plans; it writes nothing.
    op.execute("DROP FUNCTION auth_resolve_api_key(text)")
    op.execute("DROP POLICY auth_touch ON api_keys")
    op.execute("DROP POLICY auth_resolve ON api_keys")
    op.execute(f"REVOKE ALL ON api_keys, platform_api_keys FROM {AUTH_ROLE}")
    op.execute(f"GRANT SELECT (tenant_id, subscribed_plan_code, status, grace_ends_at) ON tenant_subscriptions TO {AUTH_ROLE}")
    op.execute(f"CREATE POLICY auth_resolve ON tenant_subscriptions FOR SELECT TO {AUTH_ROLE} USING (true)")
    op.execute(f"GRANT SELECT ON plans TO {AUTH_ROLE}")
    op.execute(_RESOLVER)
    op.execute("REVOKE ALL ON FUNCTION auth_resolve_api_key(text) FROM PUBLIC")
    op.execute(f"ALTER FUNCTION auth_resolve_api_key(text) OWNER TO {AUTH_ROLE}")
    op.execute(f"GRANT EXECUTE ON FUNCTION auth_resolve_api_key(text) TO {APP_ROLE}")
    # The API stamps a platform-admin key's last use through this narrow function (it cannot read that table).
    op.execute(f"GRANT SELECT (id, last_used_at), UPDATE (last_used_at) ON platform_api_keys TO {AUTH_ROLE}")
    op.execute(_TOUCH_PLATFORM_KEY)
    op.execute("REVOKE ALL ON FUNCTION auth_touch_platform_key(uuid) FROM PUBLIC")
    op.execute(f"ALTER FUNCTION auth_touch_platform_key(uuid) OWNER TO {AUTH_ROLE}")
    op.execute(f"GRANT EXECUTE ON FUNCTION auth_touch_platform_key(uuid) TO {APP_ROLE}")

    op.execute("ALTER TABLE idempotency_keys NO FORCE ROW LEVEL SECURITY")
    op.execute("DELETE FROM idempotency_keys WHERE state <> 'completed' OR response_status IS NULL")
    op.execute("ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY")
    op.drop_constraint(op.f('ck_idempotency_keys_state'), 'idempotency_keys', type_='check')
    op.drop_column('idempotency_keys', 'state')
    op.drop_column('idempotency_keys', 'locked_at')
    for column in ('response_status', 'response_headers', 'response_body'):
        op.alter_column('idempotency_keys', column, nullable=False)
    op.execute(_CLAIM)
    op.execute("REVOKE ALL ON FUNCTION idempotency_claim(uuid, text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION idempotency_claim(uuid, text) TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION idempotency_claim(uuid, text)")
    for column in ('response_status', 'response_headers', 'response_body'):
        op.alter_column('idempotency_keys', column, nullable=True)
    op.add_column('idempotency_keys', sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('idempotency_keys', sa.Column('state', sa.String(length=16), server_default='completed', nullable=False))
    op.alter_column('idempotency_keys', 'state', server_default=None)
    op.create_check_constraint(op.f('ck_idempotency_keys_state'), 'idempotency_keys', "state IN ('in_flight', 'completed')")

    op.execute("DROP FUNCTION auth_touch_platform_key(uuid)")
    op.execute("DROP FUNCTION auth_resolve_api_key(text)")
    op.execute(f"REVOKE ALL ON plans FROM {AUTH_ROLE}")
    op.execute("DROP POLICY auth_resolve ON tenant_subscriptions")
    op.execute(f"REVOKE ALL ON tenant_subscriptions FROM {AUTH_ROLE}")
    op.execute(f"GRANT SELECT, UPDATE (last_used_at) ON api_keys, platform_api_keys TO {AUTH_ROLE}")
    op.execute(f"CREATE POLICY auth_resolve ON api_keys FOR SELECT TO {AUTH_ROLE} USING (true)")
    op.execute(f"CREATE POLICY auth_touch ON api_keys FOR UPDATE TO {AUTH_ROLE} USING (true) WITH CHECK (true)")
    op.execute(_OLD_RESOLVER)
    op.execute("REVOKE ALL ON FUNCTION auth_resolve_api_key(text) FROM PUBLIC")
    op.execute(f"ALTER FUNCTION auth_resolve_api_key(text) OWNER TO {AUTH_ROLE}")
    op.execute(f"GRANT EXECUTE ON FUNCTION auth_resolve_api_key(text) TO {APP_ROLE}")

    op.execute(f"REVOKE ALL ON api_key_lookup FROM {APP_ROLE}, {AUTH_ROLE}")
    op.drop_table('api_key_lookup')
