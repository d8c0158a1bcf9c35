"""ops: the cross-tenant backlog counts behind GET /metrics, through one SECURITY DEFINER function ops_backlog()

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:00:00.000000

The application role cannot count across tenants (row-level security), so the
scrape-time gauges (webhook backlog and its oldest age, endpoints disabled,
tracking refresh backlog) read one narrow function owned by the NOLOGIN
worker role. It returns counts only, never a tenant's rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from migrations.rls import APP_ROLE

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKER_ROLE = "courier_hub_worker"
"""The NOLOGIN owner of the cross-tenant functions (created by 0004)."""
FUNCTION = "ops_backlog()"


def upgrade() -> None:
    # The worker role already reads webhook_deliveries (status, next_attempt_at) and
    # shipments (next_track_at) across tenants (0004); it needs the endpoints' flag too.
    op.execute(f"GRANT SELECT (tenant_id, id, enabled) ON webhook_endpoints TO {WORKER_ROLE}")
    op.execute(f"CREATE POLICY worker_ops ON webhook_endpoints FOR SELECT TO {WORKER_ROLE} USING (true)")
    # Counts of every tenant: deliveries due now and how long the oldest has been due (seconds,
    # 0 when none), endpoints disabled, shipments due for a tracking refresh. A leased
    # (claimed) row is not due: its next_* time moved ahead with the lease.
    op.execute(
        """
        CREATE FUNCTION ops_backlog()
        RETURNS TABLE (
            webhook_backlog bigint,
            webhook_backlog_oldest_seconds double precision,
            webhook_endpoints_disabled bigint,
            tracking_backlog bigint
        )
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$
            SELECT
                d.due,
                COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - d.oldest)::double precision, 0),
                (SELECT count(*) FROM webhook_endpoints e WHERE NOT e.enabled),
                (SELECT count(*) FROM shipments s WHERE s.next_track_at <= clock_timestamp())
            FROM (
                SELECT count(*) AS due, min(q.next_attempt_at) AS oldest FROM webhook_deliveries q
                WHERE q.status = 'pending' AND q.next_attempt_at <= clock_timestamp()
            ) d
        $$
        """
    )
    op.execute(f"ALTER FUNCTION {FUNCTION} OWNER TO {WORKER_ROLE}")
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {FUNCTION} TO {APP_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
    op.execute("DROP POLICY IF EXISTS worker_ops ON webhook_endpoints")
    op.execute(f"REVOKE ALL ON webhook_endpoints FROM {WORKER_ROLE}")
