"""/console/admin (platform admins): every tenant with its subscription status, plan, usage this month, failing
webhook endpoints and delivery backlog.

Each tenant's figures are read with the request's transaction scoped to that tenant (`set_scope`, as
`ManagedTenantSession` does for the API), so RLS applies to every query. Tenant management (suspend/resume,
plan override) adds its forms to `templates/admin.html`'s marked `actions` column and POST routes here taking `Operator`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api.deps import RequestSession
from app.billing import service as billing
from app.console.pages.orders import next_cursor, page_params
from app.console.security import Operator
from app.console.templating import render
from app.core.db.session import set_scope
from app.tenants import service as tenants
from app.tenants.models import Tenant
from app.webhooks import deliveries
from app.webhooks import service as webhooks

router = APIRouter()


@dataclass(frozen=True)
class TenantRow:
    """One line of the tenants table."""

    tenant: Tenant
    billing: dict[str, Any]
    plan_code: str
    failing_endpoints: int
    backlog: int


@router.get("/admin")
async def admin_page(
    request: Request, user: Operator, session: RequestSession, cursor: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """The tenants, newest first, 25 a page, with plan, status, usage, failing endpoints and backlog."""
    params = page_params(cursor)
    rows = await tenants.list_page(session=session, params=params)
    lines: list[TenantRow] = []
    for tenant in rows[: params.limit]:
        await set_scope(session, tenant.id, platform_admin=True)
        state = await billing.overview(session=session, tenant_id=tenant.id)
        plan = state["plan"]
        lines.append(
            TenantRow(
                tenant=tenant,
                billing=state,
                plan_code=plan["code"] if isinstance(plan, dict) else plan.code,
                failing_endpoints=len(await webhooks.failing_endpoints(session=session, tenant_id=tenant.id)),
                backlog=await deliveries.backlog(session=session, tenant_id=tenant.id),
            )
        )
    return render(
        request, "admin.html", user, active="admin", title="Admin", tenants=lines, next_cursor=next_cursor(rows, params)
    )
