"""Health checks behind `courier-hub doctor`: each returns (ok, detail)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.db.migrate import head_revision


@dataclass(frozen=True)
class Check:
    """One doctor verdict."""

    name: str
    ok: bool
    detail: str


_TENANT_TABLES = text(
    """
    SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
           EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') AS has_policy
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'
      AND (c.relname = 'tenants' OR EXISTS (
          -- tenant-owned: a NOT NULL tenant_id (api_key_lookup's is nullable: a global table)
          SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                 AND a.attnotnull AND NOT a.attisdropped))
    ORDER BY c.relname
    """
)

_APP_ROLE = text(
    """
    SELECT current_user AS role, r.rolsuper, r.rolbypassrls,
           (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relowner = r.oid) AS owned
    FROM pg_roles r WHERE r.rolname = current_user
    """
)


async def run_checks(owner_url: URL, app_url: URL) -> list[Check]:
    """Database reachable, migrations at head, RLS enabled+forced on every tenant table, app role cannot bypass RLS."""
    checks: list[Check] = []
    owner = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with owner.connect() as conn:
            version = (await conn.execute(text("SHOW server_version"))).scalar_one()
            checks.append(Check("database reachable", True, f"PostgreSQL {version}"))
            head = head_revision()
            try:
                current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
            except Exception:  # noqa: BLE001 - no alembic_version table: never migrated
                await conn.rollback()
                current = None
            checks.append(Check("migrations at head", current == head, f"database at {current}, head is {head}"))
            rows = (await conn.execute(_TENANT_TABLES)).all()
            bad = [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity and r.has_policy)]
            checks.append(
                Check(
                    "RLS enabled and forced on every tenant table",
                    bool(rows) and not bad,
                    f"{len(rows)} tables checked" + (f"; missing on: {', '.join(bad)}" if bad else "") if rows else "no tenant tables found",
                )
            )
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        checks.append(Check("database reachable", False, f"{type(exc).__name__}: {exc}"))
        return checks
    finally:
        await owner.dispose()

    app = create_async_engine(app_url, poolclass=NullPool)
    try:
        async with app.connect() as conn:
            row = (await conn.execute(_APP_ROLE)).one()
            visible = (await conn.execute(text("SELECT count(*) FROM pos_orders"))).scalar_one()
        ok = not row.rolsuper and not row.rolbypassrls and row.owned == 0 and visible == 0
        checks.append(
            Check(
                "app role cannot bypass RLS",
                ok,
                f"role {row.role}: superuser={row.rolsuper}, bypassrls={row.rolbypassrls}, owns {row.owned} tables, "
                f"sees {visible} orders without a tenant",
            )
        )
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("app role cannot bypass RLS", False, f"cannot connect as app role: {type(exc).__name__}: {exc}"))
    finally:
        await app.dispose()
    return checks
