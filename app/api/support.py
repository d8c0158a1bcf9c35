"""Support access: a platform admin reads one tenant's data with `X-Tenant-ID: <tenant id>`.

Read-only (GET and HEAD; any other method is 403 `support-access-read-only`),
scoped by row-level security to that tenant exactly as the tenant's own keys
are (`SET LOCAL app.tenant_id`), and audited: every such request is written to
the tenant's audit log (action `support_access.read`) by the hooks registered
in `AUDIT_HOOKS` (app.audit registers one at start-up, app.wiring), committed
before the read runs, so a read that fails is on record too. Without a
registered hook support access is refused (fail closed).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import Forbidden, SupportAccessReadOnly
from app.api.principal import Principal
from app.core.db.session import Database, driver_connection, set_scope
from app.core.hooks import Registry
from app.core.problems import NotFound, ValidationFailed

TENANT_HEADER = "x-tenant-id"
READ_METHODS = frozenset({"GET", "HEAD"})

SupportAuditHook = Callable[[Database, Principal, Request], Awaitable[None]]
AUDIT_HOOKS: Registry[SupportAuditHook] = Registry("support access audit")
"""Called with (db, the support principal, the request) before a support read runs; must commit its record."""

_TENANT_EXISTS_SQL = "SELECT 1 FROM tenants WHERE id = $1"


def _tenant_id(request: Request) -> uuid.UUID:
    value = request.headers.get(TENANT_HEADER, "").strip()
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailed(
            "`X-Tenant-ID` must be a tenant id (a UUID).",
            errors=[{"loc": ["header", "X-Tenant-ID"], "msg": "not a UUID", "type": "uuid_parsing"}],
        ) from None


async def enter(request: Request, session: AsyncSession, principal: Principal) -> Principal:
    """Scope the request's transaction to the `X-Tenant-ID` tenant for a platform admin; the support principal.

    Errors: 422 `validation-error` (not a UUID), 403 `support-access-read-only`
    (not GET/HEAD), 404 `not-found` (no such tenant), 403 `forbidden` when no
    audit hook is registered. The audit record is committed before returning.
    """
    tenant_id = _tenant_id(request)
    if request.method not in READ_METHODS:
        raise SupportAccessReadOnly(
            f"Support access (X-Tenant-ID) is read-only: {request.method} is refused; use GET or HEAD, "
            "or the tenant's own API key to change its data."
        )
    if not len(AUDIT_HOOKS):
        raise Forbidden("Support access is unavailable: this process does not audit it.", role=principal.role)
    await set_scope(session, tenant_id, platform_admin=True)
    if await (await driver_connection(session)).fetchval(_TENANT_EXISTS_SQL, tenant_id) is None:
        raise NotFound("No such tenant (X-Tenant-ID).")
    support = dataclasses.replace(principal, tenant_id=tenant_id, support_tenant_id=tenant_id)
    db: Database = request.app.state.db
    for hook in AUDIT_HOOKS:
        await hook(db, support, request)
    return support
