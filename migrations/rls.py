"""SQL helpers for migrations: roles, grants and row-level security.

Every tenant-owned table gets `enable_tenant_rls(table)` in the revision that
creates it. Roles are cluster-wide, so downgrades revoke but never drop them.
"""

from __future__ import annotations

from alembic import op

APP_ROLE = "courier_hub_app"
"""The API/worker login role: owns nothing, NOBYPASSRLS."""
AUTH_ROLE = "courier_hub_auth"
"""NOLOGIN role that owns the SECURITY DEFINER key resolver and nothing else."""

TENANT_ID_EXPR = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"
"""The current tenant (NULL when unset: every comparison fails, so no rows)."""


def ensure_roles() -> None:
    """Create the application and auth roles if the cluster does not have them yet."""
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
            END IF;
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{AUTH_ROLE}') THEN
                CREATE ROLE {AUTH_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
            END IF;
        END
        $$;
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}, {AUTH_ROLE}")


def enable_tenant_rls(table: str, *, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    """ENABLE + FORCE row-level security on `table` with the tenant policy, and grant the app role."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} USING (tenant_id = {TENANT_ID_EXPR}) "
        f"WITH CHECK (tenant_id = {TENANT_ID_EXPR})"
    )
    op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")


def disable_tenant_rls(table: str) -> None:
    """Undo `enable_tenant_rls` (for downgrades of a table that stays)."""
    op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
