"""citus: the same schema on one PostgreSQL and on a Citus cluster distributed by tenant_id

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 16:00:00.000000

Harmless on plain PostgreSQL; what a Citus cluster needs (issue 17):

* `api_key_lookup` loses its FK to `api_keys`: it is a reference table on
  Citus, and a reference table cannot reference a distributed one. The auth
  service writes it in the transaction that issues or revokes the key.
* A platform-admin key's `last_used_at` is stamped by the app role itself
  (one column), not by the SECURITY DEFINER `auth_touch_platform_key`: on
  Citus a definer function's remote statements run as its NOLOGIN owner, and
  `platform_api_keys` is a reference table whose writes go to every node.
* The worker's claim functions (`webhook_claim_deliveries`,
  `tracking_claim_shipments`, `label_batch_claim_items`) are plpgsql that
  read the clock once, list the tenants with due work without locks (joined
  with `tenants`, where a tenant-status filter belongs), then claim per tenant
  (`tenant_id = …`, routed to one shard) with FOR UPDATE SKIP LOCKED, until
  `p_limit` rows are claimed. A `LANGUAGE sql` body with parameters cannot be
  planned by Citus, nor can a multi-shard FOR UPDATE.
* `inbound_integration_tenant` is plpgsql too (same reason).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

from migrations.rls import APP_ROLE, AUTH_ROLE

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKER_ROLE = "courier_hub_worker"
CLAIM_LIMIT_MAX = 1000
"""Most rows one claim may take (as in 0009)."""
CLAIM_LEASE_MAX_SECONDS = 3600
"""Longest lease one claim may set, in seconds (as in 0009)."""

TENANT_CLAIMABLE = "t.status = 'active'"
"""SQL over `t` (the tenants row) that a tenant must satisfy for its work to be claimed: suspended and deleted
tenants' deliveries, tracking refreshes and batch items wait (revision 0010)."""


def _guards(function: str, *, token: bool) -> str:
    checks = f"""
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > {CLAIM_LIMIT_MAX} THEN
        RAISE EXCEPTION '{function}: p_limit must be 1..{CLAIM_LIMIT_MAX} rows, got %', coalesce(p_limit::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- NaN compares greater than every number in PostgreSQL, so "<= max" also refuses it.
    IF p_lease_seconds IS NULL OR NOT (p_lease_seconds > 0 AND p_lease_seconds <= {CLAIM_LEASE_MAX_SECONDS}) THEN
        RAISE EXCEPTION '{function}: p_lease_seconds must be above 0 and at most {CLAIM_LEASE_MAX_SECONDS}, got %',
            coalesce(p_lease_seconds::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;"""
    if token:
        checks += f"""
    IF p_token IS NULL THEN
        RAISE EXCEPTION '{function}: p_token must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;"""
    return checks


def _claim_function(
    *, name: str, signature: str, table: str, due: str, order: str, lease_set: str, returning: str, token: bool = False
) -> str:
    """A per-tenant claim: `due` (over alias q, may use v_now) selects claimable rows; `lease_set` is the SET list."""
    return f"""
CREATE OR REPLACE FUNCTION {name}({signature})
RETURNS TABLE ({returning[1]})
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := clock_timestamp();  -- read once: UPDATEs on distributed tables take no volatile function
    v_until timestamptz;
    v_tenant uuid;
    v_left integer;
    v_claimed integer;
BEGIN{_guards(name, token=token)}
    v_until := v_now + make_interval(secs => p_lease_seconds);
    v_left := p_limit;
    -- The tenants with due work, without locks (a multi-shard FOR UPDATE is refused on Citus),
    -- longest waiting first; then each tenant's rows are claimed by a statement routed to its shard.
    FOR v_tenant IN
        SELECT q.tenant_id FROM {table} q JOIN tenants t ON t.id = q.tenant_id
        WHERE {due} AND {TENANT_CLAIMABLE}
        GROUP BY q.tenant_id
        ORDER BY min(q.{order})
    LOOP
        RETURN QUERY
            WITH due AS (
                SELECT q.tenant_id, q.id FROM {table} q
                WHERE q.tenant_id = v_tenant AND {due}
                ORDER BY q.{order}
                LIMIT v_left
                FOR UPDATE SKIP LOCKED
            )
            UPDATE {table} x
            SET {lease_set}
            FROM due WHERE x.tenant_id = v_tenant AND x.id = due.id
            RETURNING {returning[0]};
        GET DIAGNOSTICS v_claimed = ROW_COUNT;
        v_left := v_left - v_claimed;
        EXIT WHEN v_left <= 0;
    END LOOP;
END
$$"""


CLAIMS = (
    _claim_function(
        name="webhook_claim_deliveries",
        signature="p_limit integer, p_lease_seconds double precision, p_token uuid",
        table="webhook_deliveries",
        due="q.status = 'pending' AND q.next_attempt_at <= v_now",
        order="next_attempt_at",
        lease_set="next_attempt_at = v_until, claim_token = p_token",
        returning=("x.tenant_id, x.id", "tenant_id uuid, id uuid"),
        token=True,
    ),
    _claim_function(
        name="tracking_claim_shipments",
        signature="p_limit integer, p_lease_seconds double precision",
        table="shipments",
        due="q.next_track_at <= v_now",
        order="next_track_at",
        lease_set="next_track_at = v_until",
        returning=(
            "x.tenant_id, x.id, x.carrier, x.integration_id",
            "tenant_id uuid, id uuid, carrier varchar, integration_id uuid",
        ),
    ),
    _claim_function(
        name="label_batch_claim_items",
        signature="p_limit integer, p_lease_seconds double precision",
        table="label_batch_items",
        due="q.status = 'queued' AND q.next_attempt_at <= v_now",
        order="next_attempt_at",
        lease_set="next_attempt_at = v_until",
        returning=("x.tenant_id, x.id, x.batch_id, x.carrier", "tenant_id uuid, id uuid, batch_id uuid, carrier varchar"),
    ),
)

_INBOUND_TENANT_BODY = """
    SELECT i.tenant_id FROM integrations i
    WHERE i.id = p_integration_id AND i.carrier = p_carrier AND i.is_active
    LIMIT 1
"""
_INBOUND_TENANT_SIGNATURE = """
CREATE OR REPLACE FUNCTION inbound_integration_tenant(p_integration_id uuid, p_carrier text)
RETURNS uuid
"""
# plpgsql: Citus cannot plan a LANGUAGE sql body with parameters. Before the tenant is known the lookup
# reads every shard (an inbound push names only its integration); it is read-only and takes no lock.
_INBOUND_TENANT = (
    _INBOUND_TENANT_SIGNATURE
    + "LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp\nAS $$\nBEGIN\n    RETURN ("
    + _INBOUND_TENANT_BODY.rstrip()
    + "\n    );\nEND\n$$"
)
_OLD_INBOUND_TENANT = (
    _INBOUND_TENANT_SIGNATURE + "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp\nAS $$"
    + _INBOUND_TENANT_BODY + "$$"
)

_TOUCH_PLATFORM_KEY = """
CREATE FUNCTION auth_touch_platform_key(p_key_id uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    UPDATE platform_api_keys SET last_used_at = now()
    WHERE id = p_key_id AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
$$
"""


def upgrade() -> None:
    op.drop_constraint(op.f('fk_api_key_lookup_tenant_id_api_keys'), 'api_key_lookup', type_='foreignkey')

    # Without the FK's cascade, the app removes a tenant's lookup rows itself (a deleted tenant's purge).
    op.execute(f"GRANT DELETE ON api_key_lookup TO {APP_ROLE}")
    op.execute("DROP FUNCTION auth_touch_platform_key(uuid)")
    op.execute(f"GRANT SELECT (id, last_used_at), UPDATE (last_used_at) ON platform_api_keys TO {APP_ROLE}")

    # The claims join tenants (a reference table, readable locally by the NOLOGIN owner; policy worker_claim: 0010).
    op.execute(f"GRANT SELECT ON tenants TO {WORKER_ROLE}")
    for function in CLAIMS:
        op.execute(function)  # CREATE OR REPLACE keeps the owner and grants
    op.execute(_INBOUND_TENANT)


def downgrade() -> None:
    op.execute(_OLD_INBOUND_TENANT)
    # The bodies of 0010 (active tenants only), restored as they were, with its column grant.
    admin = importlib.import_module("migrations.versions.2026_12_01_0010_admin")
    for name in admin._CLAIMS:  # noqa: SLF001
        op.execute(admin._claim_function(name, active_only=True))  # noqa: SLF001
    op.execute(f"REVOKE ALL ON tenants FROM {WORKER_ROLE}")
    op.execute(f"GRANT SELECT (id, status) ON tenants TO {WORKER_ROLE}")

    op.execute(f"REVOKE DELETE ON api_key_lookup FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON platform_api_keys FROM {APP_ROLE}")
    op.execute(_TOUCH_PLATFORM_KEY)
    op.execute("REVOKE ALL ON FUNCTION auth_touch_platform_key(uuid) FROM PUBLIC")
    op.execute(f"ALTER FUNCTION auth_touch_platform_key(uuid) OWNER TO {AUTH_ROLE}")
    op.execute(f"GRANT EXECUTE ON FUNCTION auth_touch_platform_key(uuid) TO {APP_ROLE}")

    op.create_foreign_key(
        op.f('fk_api_key_lookup_tenant_id_api_keys'), 'api_key_lookup', 'api_keys',
        ['tenant_id', 'key_id'], ['tenant_id', 'id'], ondelete='CASCADE',
    )
