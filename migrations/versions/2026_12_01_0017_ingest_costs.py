"""ingest costs: the key resolver keeps its plan, and an order's raw payload is stored once

* `auth_resolve_api_key` becomes PL/pgSQL with the same query and result. As a
  SECURITY DEFINER SQL function it could not be inlined, so PostgreSQL planned
  its five-table query on every call (~0.3 ms, the request pipeline's most
  expensive statement); PL/pgSQL keeps the plan for the session.
* `pos_orders.raw_payload` is dropped: the order's current raw payload is its
  latest revision's (`pos_order_revisions.raw_payload`), which held the same
  12 KB document a second time. Downgrade restores the column from the latest
  revisions.
* Without Citus, raw payloads are compressed with lz4 where the server was
  built with it (cheaper than the default pglz, for the same size).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 17:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.core.db.citus import has_citus

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RESULT = """RETURNS TABLE (key_id uuid, tenant_id uuid, role text, key_name text, plan_code text,
               requests_per_minute_per_key integer, requests_per_minute_per_tenant integer, tenant_status text)"""

_QUERY = """
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
    LEFT JOIN LATERAL (
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
    ) p ON true
    WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
      AND (k.tenant_id IS NULL OR t.status IN ('active', 'suspended'))
"""

_PLPGSQL_RESOLVER = f"""
CREATE OR REPLACE FUNCTION auth_resolve_api_key(p_key_hash text)
{_RESULT}
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY {_QUERY};
END
$$
"""

_SQL_RESOLVER = f"""
CREATE OR REPLACE FUNCTION auth_resolve_api_key(p_key_hash text)
{_RESULT}
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
{_QUERY}
$$
"""

_LZ4_AVAILABLE = (
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)


def _compress_raw_payloads(method: str) -> None:
    bind = op.get_bind()
    if has_citus(bind) or not bind.execute(sa.text(_LZ4_AVAILABLE)).scalar():
        return
    op.execute(f"ALTER TABLE pos_order_revisions ALTER COLUMN raw_payload SET COMPRESSION {method}")


def upgrade() -> None:
    op.execute(_PLPGSQL_RESOLVER)
    op.drop_column("pos_orders", "raw_payload")
    _compress_raw_payloads("lz4")


def downgrade() -> None:
    _compress_raw_payloads("default")
    op.add_column(
        "pos_orders",
        sa.Column("raw_payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.execute(
        "UPDATE pos_orders o SET raw_payload = r.raw_payload FROM pos_order_revisions r "
        "WHERE r.tenant_id = o.tenant_id AND r.order_id = o.id AND r.revision = o.revision_count"
    )
    op.execute("UPDATE pos_orders SET raw_payload = 'null'::jsonb WHERE raw_payload IS NULL")
    op.alter_column("pos_orders", "raw_payload", nullable=False)
    op.execute(_SQL_RESOLVER)
