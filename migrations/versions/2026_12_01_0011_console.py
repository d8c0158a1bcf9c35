"""console: server-side sessions of the web console, opened with an API key

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 14:00:00.000000

* `console_sessions` (global, like `api_key_lookup`): SHA-256 of a random
  session id -> the API key it was opened with (cascade: deleting the key's
  lookup row ends its sessions), tenant, role, last seen, absolute expiry.
* The application role has no privilege on it. Three SECURITY DEFINER
  functions owned by the auth role are the only way in:
  `console_session_open(session_hash, key_hash, max_seconds)` opens a
  session for a valid key and returns the key as `auth_resolve_api_key`
  does (nothing for an invalid key); `console_session_resolve(session_hash,
  idle_seconds)` returns the same for a session seen within `idle_seconds`
  (and stamps it), nothing once idle, expired, or its key revoked or expired;
  `console_session_close(session_hash)` deletes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import APP_ROLE, AUTH_ROLE

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RESULT = (
    "TABLE (key_id uuid, tenant_id uuid, role text, key_name text, plan_code text, "
    "requests_per_minute_per_key integer, requests_per_minute_per_tenant integer, tenant_status text)"
)

_OPEN = f"""
CREATE FUNCTION console_session_open(p_session_hash text, p_key_hash text, p_max_seconds integer)
RETURNS {_RESULT}
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    -- Expired sessions go as new ones come: the table stays as small as the signed-in browsers.
    DELETE FROM console_sessions WHERE expires_at < now();
    INSERT INTO console_sessions (session_hash, key_id, tenant_id, role, expires_at)
        SELECT p_session_hash, r.key_id, r.tenant_id, r.role, now() + make_interval(secs => p_max_seconds)
        FROM auth_resolve_api_key(p_key_hash) r;
    RETURN QUERY SELECT * FROM auth_resolve_api_key(p_key_hash);
END
$$
"""

_RESOLVE = f"""
CREATE FUNCTION console_session_resolve(p_session_hash text, p_idle_seconds integer)
RETURNS {_RESULT}
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_key_hash text;
BEGIN
    UPDATE console_sessions s SET last_seen_at = now()
        FROM api_key_lookup k
        WHERE s.session_hash = p_session_hash AND k.key_id = s.key_id
          AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(secs => p_idle_seconds)
        RETURNING k.key_hash INTO v_key_hash;
    IF v_key_hash IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM auth_resolve_api_key(v_key_hash);
END
$$
"""

_CLOSE = """
CREATE FUNCTION console_session_close(p_session_hash text) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    DELETE FROM console_sessions WHERE session_hash = p_session_hash
$$
"""

_SIGNATURES = (
    "console_session_open(text, text, integer)",
    "console_session_resolve(text, integer)",
    "console_session_close(text)",
)


def upgrade() -> None:
    op.create_table(
        'console_sessions',
        sa.Column('session_hash', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=True),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['key_id'], ['api_key_lookup.key_id'], name=op.f('fk_console_sessions_key_id_api_key_lookup'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_console_sessions_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('session_hash', name=op.f('pk_console_sessions')),
    )
    op.create_index(op.f('ix_console_sessions_key_id'), 'console_sessions', ['key_id'], unique=False)
    op.execute(f"REVOKE ALL ON console_sessions FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, DELETE, UPDATE (last_seen_at) ON console_sessions TO {AUTH_ROLE}")
    # The resolver's UPDATE ... FROM api_key_lookup reads key_hash through the existing auth_resolve policy.
    for sql, signature in zip((_OPEN, _RESOLVE, _CLOSE), _SIGNATURES, strict=True):
        op.execute(sql)
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"ALTER FUNCTION {signature} OWNER TO {AUTH_ROLE}")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")


def downgrade() -> None:
    for signature in _SIGNATURES:
        op.execute(f"DROP FUNCTION {signature}")
    op.execute(f"REVOKE ALL ON console_sessions FROM {AUTH_ROLE}")
    op.drop_index(op.f('ix_console_sessions_key_id'), table_name='console_sessions')
    op.drop_table('console_sessions')
