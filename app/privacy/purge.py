"""Erasing deleted tenants (the worker): every row of every tenant table, in batches; the tenant row stays as a tombstone.

A tenant PATCHed to `deleted` (app.tenants.service.update) is picked up by
the worker's maintenance pass (`purge_deleted_tenants`). Tables come from the
catalog (app.privacy.catalog), so a table added later is erased too:

1. foreign keys between tenant tables whose columns may be NULL (e.g.
   shipments -> labels and labels -> shipments, a cycle) are cleared;
2. each table is emptied of the tenant's rows, children before parents,
   PURGE_BATCH_SIZE rows per transaction;
   The billing tables, which the app role may not DELETE from, are emptied
   by `tenant_purge_billing` (SECURITY DEFINER, deleted tenants only);
3. the tenant's audit entries stay (who did what, when: they hold no customer
   data), their client addresses blanked by `audit_redact_tenant` (a narrow
   SECURITY DEFINER function; the app role cannot change audit rows);
4. the tenant row becomes a tombstone: name "Deleted tenant", slug
   `deleted-<id>`, no shipper address, `purged_at` set.

Each step is idempotent: a worker killed halfway resumes on its next pass.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import text

from app.core.db.session import Database
from app.privacy import catalog

logger = logging.getLogger(__name__)

PURGE_BATCH_SIZE = 1000
"""Rows deleted (or foreign keys cleared) per transaction."""

KEPT_TABLES = frozenset({"audit_log"})
"""Tenant tables whose rows outlive the tenant (see step 3)."""

_DUE = text("SELECT id FROM tenants WHERE status = 'deleted' AND purged_at IS NULL ORDER BY id")
_TOMBSTONE = text(
    "UPDATE tenants SET name = 'Deleted tenant', slug = 'deleted-' || id::text, shipper_address = NULL, "
    "purged_at = now(), updated_at = now() WHERE id = :tenant_id AND status = 'deleted'"
)
_REDACT = text("SELECT audit_redact_tenant(:tenant_id)")
_PURGE_BILLING = text("SELECT tenant_purge_billing(:tenant_id)")
_PURGE_KEY_LOOKUP = text("DELETE FROM api_key_lookup WHERE tenant_id = :tenant_id")
BILLING_TABLES = frozenset({"tenant_subscriptions", "usage_counters"})
"""Emptied by `tenant_purge_billing` (the app role has no DELETE on them)."""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _batched(table: catalog.TenantTable, action: str, extra: str = "") -> str:
    """`action` (DELETE FROM t / UPDATE t SET ...) on up to PURGE_BATCH_SIZE of the tenant's rows of `table`."""
    key = ", ".join(_quote(c) for c in table.primary_key)
    name = _quote(table.name)
    return (
        f"{action} WHERE tenant_id = :tenant_id AND ({key}) IN "  # noqa: S608 - identifiers from the catalog, quoted
        f"(SELECT {key} FROM {name} WHERE tenant_id = :tenant_id{extra} LIMIT {PURGE_BATCH_SIZE})"
    )


async def _repeat(db: Database, tenant_id: uuid.UUID, sql: str) -> int:
    """Run a batch statement in its own transactions until a batch comes back short; rows affected."""
    total = 0
    while True:
        async with db.transaction(tenant_id) as session:
            count = int((await session.execute(text(sql), {"tenant_id": tenant_id})).rowcount or 0)
        total += count
        if count < PURGE_BATCH_SIZE:
            return total


async def purge_tenant(*, db: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    """Erase one deleted tenant's rows and leave its tombstone; rows deleted per table."""
    async with db.transaction(tenant_id) as session:
        tables = await catalog.tenant_tables(session)
        keys = await catalog.foreign_keys(session)
    for key in keys:
        if key.nullable and not key.cascades and key.child in tables and key.child not in KEPT_TABLES:
            columns = [c for c in key.columns if c != "tenant_id"]
            if not columns:
                continue
            sets = ", ".join(f"{_quote(c)} = NULL" for c in columns)
            not_null = " AND (" + " OR ".join(f"{_quote(c)} IS NOT NULL" for c in columns) + ")"
            table = tables[key.child]
            await _repeat(db, tenant_id, _batched(table, f"UPDATE {_quote(table.name)} SET {sets}", not_null))
    deleted: dict[str, int] = {}
    for name in catalog.children_first(sorted(tables), keys):
        table = tables[name]
        if name in KEPT_TABLES or name in BILLING_TABLES:
            continue
        if not table.deletable or not table.primary_key:
            logger.error("tenant %s: cannot erase table %s (no DELETE grant or no primary key)", tenant_id, name)
            continue
        count = await _repeat(db, tenant_id, _batched(table, f"DELETE FROM {_quote(name)}"))
        if count:
            deleted[name] = count
    async with db.transaction(tenant_id) as session:
        if billing := int((await session.execute(_PURGE_BILLING, {"tenant_id": tenant_id})).scalar_one()):
            deleted["billing"] = billing
        # The global key lookup (a reference table on Citus, no FK cascade from api_keys): its rows go too.
        if lookups := (await session.execute(_PURGE_KEY_LOOKUP, {"tenant_id": tenant_id})).rowcount:
            deleted["api_key_lookup"] = int(lookups)
    async with db.transaction(tenant_id, platform_admin=True) as session:
        redacted = (await session.execute(_REDACT, {"tenant_id": tenant_id})).scalar_one()
        await session.execute(_TOMBSTONE, {"tenant_id": tenant_id})
    logger.info("deleted tenant %s erased: %s rows (%s), %d audit entries redacted",
                tenant_id, sum(deleted.values()), deleted, redacted)
    return deleted


async def purge_deleted_tenants(*, db: Database) -> dict[str, int]:
    """Erase every deleted tenant not yet purged; rows deleted per table, over all of them."""
    async with db.transaction(platform_admin=True) as session:
        due = list((await session.execute(_DUE)).scalars())
    totals: dict[str, int] = {}
    for tenant_id in due:
        for table, count in (await purge_tenant(db=db, tenant_id=tenant_id)).items():
            totals[table] = totals.get(table, 0) + count
    return totals
