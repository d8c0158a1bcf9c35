"""/console/audit-log: who did what. Tenant admins see their tenant's entries, platform admins every tenant's (or one
tenant's, with the tenant filter) and the platform-wide ones; merchants get 403, as from GET /v1/audit-log.

The entries come from `app.audit.service.list_visible`, the function the API's list calls, so both apply the
same visibility rule. Filters: `action`, `target_type`, `since` (UTC), `actor_key_id` (a link on each actor) and,
for platform admins, `tenant_id`; 25 entries a page, newest first, with a cursor.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api.deps import RequestSession
from app.audit import service as audit
from app.console.pages.orders import next_cursor, page_params
from app.console.security import Auditor
from app.console.templating import render
from app.core.pagination import PageParams
from app.tenants import service as tenants

router = APIRouter()

TENANT_CHOICES = 200
"""How many tenants (newest first) the platform admin's tenant filter offers."""
TARGET_TYPES = (
    "admin_key", "api_key", "integration", "plan", "privacy_erasure", "request", "retention_settings", "tenant", "webhook_endpoint",
)
"""Target types the filter suggests (a datalist: any other value may still be typed)."""


def _uuid(text: str, name: str, errors: list[str]) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        errors.append(f"{name}: '{text[:60]}' is not an id.")
        return None


def _since(text: str, errors: list[str]) -> datetime | None:
    try:
        value = datetime.fromisoformat(text) if text else None
    except ValueError:
        errors.append(f"since: '{text[:60]}' is not a date and time (YYYY-MM-DDTHH:MM, UTC).")
        return None
    return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)


@router.get("/audit-log")
async def audit_log_page(
    request: Request,
    user: Auditor,
    session: RequestSession,
    action: Annotated[str, Query(max_length=100)] = "",
    target_type: Annotated[str, Query(max_length=50)] = "",
    since: Annotated[str, Query(max_length=40, description="UTC, YYYY-MM-DDTHH:MM.")] = "",
    tenant_id: Annotated[str, Query(max_length=40)] = "",
    actor_key_id: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Audit entries, newest first, 25 a page: time, tenant (platform admins), actor (key prefix, role), action,
    target, changed field names, request id and client address. A malformed filter shows its error (422), no rows."""
    errors: list[str] = []
    filters: dict[str, Any] = {
        "action": action.strip() or None,
        "target_type": target_type.strip() or None,
        "since": _since(since.strip(), errors),
        "tenant_id": _uuid(tenant_id.strip(), "tenant", errors),
        "actor_key_id": _uuid(actor_key_id.strip(), "actor", errors),
    }
    params = page_params(cursor)
    rows = [] if errors else await audit.list_visible(session=session, principal=user.principal, params=params, **filters)
    platform = user.principal.is_platform_admin
    choices = (await tenants.list_page(session=session, params=PageParams(after_id=None, limit=TENANT_CHOICES)))[:TENANT_CHOICES] if platform else []
    names = {t.id: t.name for t in choices}
    missing = [r.tenant_id for r in rows if r.tenant_id is not None and r.tenant_id not in names]
    if platform and missing:
        names |= await tenants.names(session=session, tenant_ids=missing)
    return render(
        request, "audit_log.html", user, active="audit", title="Audit log", status_code=422 if errors else 200,
        rows=rows[: params.limit], next_cursor=next_cursor(rows, params), errors=errors, platform=platform,
        tenant_choices=choices, tenant_names=names, target_types=TARGET_TYPES,
        form={"action": action, "target_type": target_type, "since": since, "tenant_id": tenant_id, "actor_key_id": actor_key_id},
    )
