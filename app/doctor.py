"""Health checks behind `courier-hub doctor`: each returns (ok, detail).

`run_checks`: the database, migrations, row-level security, the app role.
`run_config_checks`: the encryption keys against stored secrets, Redis, Stripe, the worker's heartbeat.
`run_citus_checks`: on Citus, distribution, colocation, reference tables, definer logins, the tenant scope.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.core.db.session import Database
from app.core.db.citus import CROSS_TENANT_MARK
from app.core.db.migrate import head_revision

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One doctor verdict; `skipped`: nothing could be checked (shown as SKIP, not a failure)."""

    name: str
    ok: bool
    detail: str
    skipped: bool = False


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

# doctor's RLS probe reads a tenant table without a tenant on purpose (RLS must show nothing); the mark
# (app.core.db.citus) lets the suite's tenant-predicate check skip it.

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
            visible = (await conn.execute(text(f"{CROSS_TENANT_MARK} SELECT count(*) FROM pos_orders"))).scalar_one()
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


_STORED_SECRETS = text(
    """
    (SELECT 'integration' AS kind, id::text AS id, credentials_ciphertext AS token
       FROM integrations ORDER BY created_at DESC LIMIT 3)
    UNION ALL
    (SELECT 'webhook endpoint', id::text, secret_ciphertext FROM webhook_endpoints ORDER BY created_at DESC LIMIT 3)
    """
)


async def run_config_checks(settings: Settings, owner_url: URL, *, timeout_seconds: float = 3.0) -> list[Check]:
    """The configuration against what is running: each check is independent, none raises.

    * CREDENTIALS_ENCRYPTION_KEYS decrypt the newest stored integration credentials and
      webhook endpoint secrets (read as the owner: all tenants when it bypasses RLS, as the
      compose and embedded superusers do; otherwise only what it may see).
    * Redis answers PING when REDIS_URL is set.
    * Stripe is configured (STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET) when a plan has a `stripe_price_id`.
    * The worker's /healthz on METRICS_HOST:WORKER_HEALTH_PORT answers 200 (503: its loop is
      stuck); nothing listening or the port off (0): unknown, shown as SKIP.
    """
    checks = [await _check_stored_secrets(settings, owner_url), await _check_stripe(settings, owner_url)]
    checks.append(await _check_redis(settings, timeout_seconds))
    checks.append(await asyncio.to_thread(_check_worker, settings, timeout_seconds))
    return checks


async def _check_stored_secrets(settings: Settings, owner_url: URL) -> Check:
    from app.core.crypto import CredentialsDecryptError, CredentialsKeyError, cipher_from_settings

    name = "encryption keys decrypt stored secrets"
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(_STORED_SECRETS)).all()
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        return Check(name, False, f"cannot read stored secrets: {type(exc).__name__}: {exc}")
    finally:
        await engine.dispose()
    try:
        cipher = cipher_from_settings(settings)
    except CredentialsKeyError as exc:
        if rows or settings.environment == "production":
            return Check(name, False, f"{exc}; {len(rows)} stored secret(s) sampled cannot be read")
        return Check(name, True, "CREDENTIALS_ENCRYPTION_KEYS is not set; nothing is stored yet (set it before connecting carriers)")
    if not rows:
        return Check(name, True, f"{cipher.key_count} key(s) configured; no stored secret to try yet", skipped=True)
    failed = []
    for row in rows:
        try:
            cipher.decrypt(row.token)
        except CredentialsDecryptError:
            failed.append(f"{row.kind} {row.id}")
    if failed:
        return Check(name, False, f"{len(failed)} of {len(rows)} sampled secrets decrypt under none of the keys: {', '.join(failed)}")
    return Check(name, True, f"{len(rows)} sampled secret(s) decrypt under the {cipher.key_count} configured key(s)")


async def _check_stripe(settings: Settings, owner_url: URL) -> Check:
    name = "Stripe configured for priced plans"
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            priced = (await conn.execute(text("SELECT code FROM plans WHERE stripe_price_id IS NOT NULL ORDER BY code"))).scalars().all()
    except Exception as exc:  # noqa: BLE001
        return Check(name, False, f"cannot read plans: {type(exc).__name__}: {exc}")
    finally:
        await engine.dispose()
    if not priced:
        return Check(name, True, "no plan has a stripe_price_id: billing is off", skipped=settings.stripe_api_key is None)
    missing = [n for n, v in (("STRIPE_API_KEY", settings.stripe_api_key), ("STRIPE_WEBHOOK_SECRET", settings.stripe_webhook_secret)) if v is None]
    if missing:
        return Check(name, False, f"plans {', '.join(priced)} have prices but {' and '.join(missing)} is not set")
    return Check(name, True, f"plans {', '.join(priced)} have prices; STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET are set")


async def _check_redis(settings: Settings, timeout_seconds: float) -> Check:
    name = "Redis answers"
    if not settings.redis_url:
        return Check(name, True, "REDIS_URL is not set: rate-limit counts live in each process's memory", skipped=True)
    import redis.asyncio as redis

    client = redis.from_url(settings.redis_url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001
        return Check(name, False, f"REDIS_URL does not answer PING: {type(exc).__name__}: {exc}")
    finally:
        await client.aclose()
    return Check(name, True, "PING answered")


def _check_worker(settings: Settings, timeout_seconds: float) -> Check:
    name = "worker heartbeat"
    port = getattr(settings, "worker_health_port", 0) or 0
    host = getattr(settings, "metrics_host", "127.0.0.1") or "127.0.0.1"
    if not port:
        return Check(name, True, "unknown: WORKER_HEALTH_PORT is off (0)", skipped=True)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_seconds) as response:  # noqa: S310 - http to our own worker
            return Check(name, True, f"{url} answered {response.status}: {response.read(500).decode(errors='replace')}")
    except urllib.error.HTTPError as exc:
        body = exc.read(500).decode(errors="replace")
        return Check(name, False, f"{url} answered {exc.code}: {body}")
    except (OSError, ValueError) as exc:
        return Check(name, True, f"unknown: no worker answers at {url} ({exc}); it may run on another host", skipped=True)


async def run_citus_checks(owner_url: URL, app_url: URL) -> list[Check]:
    """On a Citus database (none on plain PostgreSQL): distribution and the tenant scope on the workers.

    * every tenant table is distributed by tenant_id, all in one colocation group;
    * every global table (app.core.db.citus.REFERENCE_TABLES) is a reference table;
    * the owners of SECURITY DEFINER functions whose statements reach the workers
      (DEFINER_ROLES_READING_SHARDS) can log in on every node;
    * the tenant scope reaches a worker: as the app role, a probe row is written
      under probe tenant A and read back through its shard under A, and is not
      seen under probe tenant B (the probe tenants and their rows are deleted after).
    """
    from app.core.db import citus
    from app.models import Base

    owner = Database(owner_url, pool_size=1, max_overflow=1)
    try:
        async with owner.engine.connect() as conn:
            if not await conn.run_sync(citus.has_citus):
                return []
            tenant_problems, global_problems = await conn.run_sync(citus.distribution_problems, Base.metadata)
            login_problems = await conn.run_sync(citus.definer_login_problems)
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        await owner.dispose()
        return [Check("Citus metadata readable", False, f"{type(exc).__name__}: {exc}")]
    checks = [
        Check("Citus: every tenant table distributed by tenant_id and colocated", not tenant_problems,
              "; ".join(tenant_problems) or f"{len(citus.tenant_tables(Base.metadata))} tenant tables in one colocation group"),
        Check("Citus: global tables are reference tables", not global_problems,
              "; ".join(global_problems) or ", ".join(citus.REFERENCE_TABLES)),
        Check("Citus: owners of definer functions reading shards can log in", not login_problems,
              ("cannot log in: " + "; ".join(login_problems) + " (run `courier-hub citus distribute`)") if login_problems
              else ", ".join(citus.DEFINER_ROLES_READING_SHARDS) + " on every node"),
    ]
    if tenant_problems:
        await owner.dispose()
        return checks
    checks.append(await _probe_tenant_scope(owner, app_url))
    await owner.dispose()
    return checks


async def _probe_tenant_scope(owner: Database, app_url: URL) -> Check:
    from app.core.db import citus

    name = "Citus: the tenant scope reaches the workers"
    tenant_a, tenant_b = citus.probe_tenants()
    probe = text(f"SELECT count(*) FROM {citus.PROBE_TABLE} WHERE tenant_id = CAST(:t AS uuid) AND metric = 'citus-probe'")
    app = Database(app_url, pool_size=1, max_overflow=1)
    try:
        async with owner.transaction(platform_admin=True) as session:
            for tenant in (tenant_a, tenant_b):
                await session.execute(
                    text("INSERT INTO tenants (id, name, slug) VALUES (CAST(:id AS uuid), 'citus probe', CAST(:slug AS text))"),
                    {"id": tenant, "slug": f"citus-probe-{tenant.hex[:12]}"},
                )
        async with app.transaction(tenant_a) as session:
            await session.execute(
                text(f"INSERT INTO {citus.PROBE_TABLE} (tenant_id, metric, period_start, count) "
                     "VALUES (CAST(:t AS uuid), 'citus-probe', current_date, 1)"),
                {"t": tenant_a},
            )
        async with app.transaction(tenant_a) as session:
            seen_by_a = (await session.execute(probe, {"t": tenant_a})).scalar_one()
        async with app.transaction(tenant_b) as session:
            seen_by_b = (await session.execute(probe, {"t": tenant_a})).scalar_one()
        async with owner.engine.connect() as conn:
            node = await conn.run_sync(citus.shard_node, citus.PROBE_TABLE, tenant_a)
    except Exception as exc:  # noqa: BLE001 - a failed probe is the finding
        return Check(name, False, f"probe failed: {type(exc).__name__}: {exc}")
    finally:
        await app.dispose()
        try:
            async with owner.transaction(platform_admin=True) as session:
                await session.execute(text("DELETE FROM tenants WHERE id IN (CAST(:a AS uuid), CAST(:b AS uuid))"), {"a": tenant_a, "b": tenant_b})
        except Exception:  # noqa: BLE001 - the check's finding stands; leftovers are two tenants named 'citus probe'
            logger.warning("doctor: could not remove the Citus probe tenants %s and %s", tenant_a, tenant_b, exc_info=True)
    ok = seen_by_a == 1 and seen_by_b == 0
    return Check(name, ok, f"probe row on {node}: seen under its tenant {seen_by_a}, under another tenant {seen_by_b}")
