"""citus follow-up: the functions of 0012 and 0013 planned per tenant on Citus, as 0014 did for the claims

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 17:00:00.000000

Harmless on plain PostgreSQL; what a Citus cluster needs (issue 17, for what
0010-0013 added):

* `shipping_rule_claim_bookings` is a per-tenant plpgsql claim like 0014's
  (clock read once, tenants with due work listed without locks, joined with
  `tenants` for the tenant-status filter, then FOR UPDATE SKIP LOCKED routed
  to one tenant's shard). The `LANGUAGE sql` body of 0012 updated with
  `clock_timestamp()` and locked rows of every shard at once: both refused on
  a distributed table. Suspended and deleted tenants' bookings now wait, as
  their deliveries do, and the claim takes 0014's argument guards.
* `pos_connection_tenant` and `analytics_network_benchmark` are plpgsql:
  Citus cannot plan a `LANGUAGE sql` body with parameters over a distributed
  table.
* `courier_hub_auth` gets table-level UPDATE on `tenants` and `api_key_lookup`,
  the reference tables `console_sessions` references, and a RESTRICTIVE
  policy `USING (false)` for UPDATE on both, so it still updates (or locks)
  no row of them. On Citus a write to a reference table first takes
  `lock_shard_resources` on the reference tables it references, on the
  first worker, and that UDF demands UPDATE, DELETE or TRUNCATE on them
  ("permission denied for table tenants" at console sign-in otherwise).
* `console_sessions`, `platform_audit_log` and `tenant_plan_overrides` are
  reference tables (`app.core.db.citus.REFERENCE_TABLES`); no schema change
  here: on a database distributed before this revision, run
  `courier-hub citus distribute` again (idempotent; `doctor` names them).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

from migrations.rls import AUTH_ROLE

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_citus = importlib.import_module("migrations.versions.2026_12_01_0014_citus")
_analytics = importlib.import_module("migrations.versions.2026_12_01_0013_analytics")

RULE_CLAIM = _citus._claim_function(  # noqa: SLF001 - the one way 0014 writes a per-tenant claim
    name="shipping_rule_claim_bookings",
    signature="p_limit integer, p_lease_seconds double precision",
    table="shipping_rule_bookings",
    due="q.status = 'queued' AND q.next_attempt_at <= v_now",
    order="next_attempt_at",
    lease_set="next_attempt_at = v_until",
    returning=("x.tenant_id, x.id, x.order_id", "tenant_id uuid, id uuid, order_id uuid"),
)

_OLD_RULE_CLAIM = """
CREATE OR REPLACE FUNCTION shipping_rule_claim_bookings(p_limit integer, p_lease_seconds double precision)
RETURNS TABLE (tenant_id uuid, id uuid, order_id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    WITH due AS (
        SELECT q.tenant_id, q.id FROM shipping_rule_bookings q
        WHERE q.status = 'queued' AND q.next_attempt_at <= clock_timestamp()
        ORDER BY q.next_attempt_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE shipping_rule_bookings b
    SET next_attempt_at = clock_timestamp() + make_interval(secs => p_lease_seconds)
    FROM due WHERE b.tenant_id = due.tenant_id AND b.id = due.id
    RETURNING b.tenant_id, b.id, b.order_id
$$
"""

_CONNECTION_TENANT_SIGNATURE = """
CREATE OR REPLACE FUNCTION pos_connection_tenant(p_connection_id uuid)
RETURNS uuid
"""
_CONNECTION_TENANT_BODY = """
    SELECT c.tenant_id FROM pos_connections c
    WHERE c.id = p_connection_id AND c.deleted_at IS NULL AND NOT c.is_default
    LIMIT 1
"""
# Before the tenant is known the lookup reads every shard (a shop's push names only its connection);
# it is read-only and takes no lock, like 0014's inbound_integration_tenant.
CONNECTION_TENANT = (
    _CONNECTION_TENANT_SIGNATURE
    + "LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp\nAS $$\nBEGIN\n    RETURN ("
    + _CONNECTION_TENANT_BODY.rstrip()
    + "\n    );\nEND\n$$"
)
_OLD_CONNECTION_TENANT = (
    _CONNECTION_TENANT_SIGNATURE + "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp\nAS $$"
    + _CONNECTION_TENANT_BODY + "$$"
)


def _network_benchmark(language: str) -> str:
    """0013's network benchmark, its body as it was (`sql`) or wrapped in plpgsql's RETURN QUERY (`plpgsql`)."""
    sql = _analytics.NETWORK_SQL.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    if language == "sql":
        return sql
    head, body = sql.split("LANGUAGE sql STABLE", 1)
    options, query = body.split("AS $$", 1)
    query = query.rstrip().removesuffix("$$").rstrip()
    return (
        f"{head}LANGUAGE plpgsql STABLE{options}AS $$\n#variable_conflict use_column\nBEGIN\n"
        f"    RETURN QUERY{query};\nEND\n$$\n"
    )


LOCKED_BY_SESSION_WRITES = ("tenants", "api_key_lookup")
"""The reference tables `console_sessions` references: Citus locks them (lock_shard_resources) on its every write."""
NO_UPDATE_POLICY = "auth_lock_only"


def upgrade() -> None:
    # CREATE OR REPLACE keeps each function's owner (courier_hub_worker, courier_hub_analytics) and grants.
    op.execute(RULE_CLAIM)
    op.execute(CONNECTION_TENANT)
    op.execute(_network_benchmark("plpgsql"))
    for table in LOCKED_BY_SESSION_WRITES:
        # Both have RLS enabled (tenants also forced); the privilege is only what Citus's lock UDF checks.
        op.execute(f"GRANT UPDATE ON {table} TO {AUTH_ROLE}")
        op.execute(f"CREATE POLICY {NO_UPDATE_POLICY} ON {table} AS RESTRICTIVE FOR UPDATE TO {AUTH_ROLE} USING (false)")


def downgrade() -> None:
    for table in LOCKED_BY_SESSION_WRITES:
        op.execute(f"DROP POLICY {NO_UPDATE_POLICY} ON {table}")
        op.execute(f"REVOKE UPDATE ON {table} FROM {AUTH_ROLE}")
    op.execute(_network_benchmark("sql"))
    op.execute(_OLD_CONNECTION_TENANT)
    op.execute(_OLD_RULE_CLAIM)
