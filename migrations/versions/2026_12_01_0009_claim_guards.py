"""claim guards: the worker's SECURITY DEFINER claim functions refuse bad arguments

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:00:00.000000

`webhook_claim_deliveries`, `tracking_claim_shipments` and
`label_batch_claim_items` run as their owner (the NOLOGIN worker role) across
every tenant, so what the application role passes them must be checked inside:
called as `webhook_claim_deliveries(NULL, NULL, NULL)` the old body claimed
every due delivery of every tenant and left `next_attempt_at` NULL (stuck
forever), and a huge lease parked rows for decades. Now:

* `p_limit` must be 1..1000 rows (CLAIM_LIMIT_MAX);
* `p_lease_seconds` must be a number above 0 and at most 3600 seconds
  (CLAIM_LEASE_MAX_SECONDS; NULL, NaN and Infinity are refused);
* `p_token` (deliveries) must not be NULL.

A bad argument raises SQLSTATE 22023 (invalid_parameter_value) with a message
naming the function and the argument; nothing is claimed. Sub-second leases stay
allowed (tests and tight webhook timeouts use them). The bodies are otherwise
unchanged (plpgsql now, to raise); downgrade restores the SQL bodies of 0004 and 0007.
CREATE OR REPLACE keeps each function's owner and grants.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIM_LIMIT_MAX = 1000
"""Most rows one claim may take."""
CLAIM_LEASE_MAX_SECONDS = 3600
"""Longest lease one claim may set, in seconds."""


def _guards(function: str, *, token: bool = False) -> str:
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


_WEBHOOK_SIGNATURE = """
CREATE OR REPLACE FUNCTION webhook_claim_deliveries(p_limit integer, p_lease_seconds double precision, p_token uuid)
RETURNS TABLE (tenant_id uuid, id uuid)
"""
_WEBHOOK_QUERY = """
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
"""

_TRACKING_SIGNATURE = """
CREATE OR REPLACE FUNCTION tracking_claim_shipments(p_limit integer, p_lease_seconds double precision)
RETURNS TABLE (tenant_id uuid, id uuid, carrier varchar, integration_id uuid)
"""
_TRACKING_QUERY = """
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
"""

_LABEL_SIGNATURE = """
CREATE OR REPLACE FUNCTION label_batch_claim_items(p_limit integer, p_lease_seconds double precision)
RETURNS TABLE (tenant_id uuid, id uuid, batch_id uuid, carrier varchar)
"""
_LABEL_QUERY = """
    WITH due AS (
        SELECT q.tenant_id, q.id FROM label_batch_items q
        WHERE q.status = 'queued' AND q.next_attempt_at <= clock_timestamp()
        ORDER BY q.next_attempt_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE label_batch_items i
    SET next_attempt_at = clock_timestamp() + make_interval(secs => p_lease_seconds)
    FROM due WHERE i.tenant_id = due.tenant_id AND i.id = due.id
    RETURNING i.tenant_id, i.id, i.batch_id, i.carrier
"""

_FUNCTIONS = (
    ("webhook_claim_deliveries", _WEBHOOK_SIGNATURE, _WEBHOOK_QUERY, True),
    ("tracking_claim_shipments", _TRACKING_SIGNATURE, _TRACKING_QUERY, False),
    ("label_batch_claim_items", _LABEL_SIGNATURE, _LABEL_QUERY, False),
)


def _guarded(name: str, signature: str, query: str, token: bool) -> str:
    # use_column: the RETURNS TABLE names (tenant_id, id, ...) are also plpgsql variables.
    return (
        signature
        + "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp\nAS $$\n"
        + "#variable_conflict use_column\nBEGIN"
        + _guards(name, token=token)
        + "\n    RETURN QUERY"
        + query.rstrip()
        + ";\nEND\n$$"
    )


def _plain(signature: str, query: str) -> str:
    """The body before this revision (0004, 0007): one SQL statement."""
    return signature + "LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp\nAS $$" + query + "$$"


def upgrade() -> None:
    for name, signature, query, token in _FUNCTIONS:
        op.execute(_guarded(name, signature, query, token))


def downgrade() -> None:
    for _name, signature, query, _token in _FUNCTIONS:
        op.execute(_plain(signature, query))
