"""/console/admin (platform admins): every tenant with its status, plan and where the plan comes from, usage this
month, failing webhook endpoints and delivery backlog; a tenant's page suspends or resumes it and sets or removes its
plan override.

Each tenant's figures are read, and its changes made, with the request's transaction scoped to that tenant
(`set_scope`, as `ManagedTenantSession` does for the API), so RLS applies to every query. The changes call the
services the API calls: `app.tenants.service.update` (PATCH /v1/tenants/{id}: the `tenant.status_changed` event
and the `tenant.updated` audit entry) and `app.billing.overrides` (PUT/DELETE /v1/tenants/{id}/plan: the audit
entries `plan_override.set` / `plan_override.removed`, `billing.plan_changed` when the plan in force moves).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import RequestSession
from app.billing import overrides, plans
from app.billing import service as billing
from app.billing.schemas import PlanOverrideSet
from app.console.forms import errors_of, problem_lines
from app.console.pages.orders import next_cursor, page_params
from app.console.security import ConsoleUser, Operator
from app.console.templating import render
from app.core.db.session import set_scope
from app.core.problems import Problem
from app.tenants import service as tenants
from app.tenants.errors import TenantNotFound
from app.tenants.models import Tenant
from app.webhooks import deliveries
from app.webhooks import service as webhooks

router = APIRouter()

STATUS_ACTIONS = {"suspended": "Tenant suspended: its keys are refused, webhooks and tracking refresh paused.",
                  "active": "Tenant resumed: its keys work again."}
"""The statuses the console sets (deletion stays an API call: it erases data), with their notices."""


@dataclass(frozen=True)
class TenantRow:
    """One tenant's line: the tenant, its billing state (`billing.overview`), plan, failing endpoints, backlog."""

    tenant: Tenant
    billing: dict[str, Any]
    plan_code: str
    failing_endpoints: int
    backlog: int


async def _row(session: AsyncSession, tenant: Tenant) -> TenantRow:
    """The tenant's figures, read with the transaction scoped to it."""
    await set_scope(session, tenant.id, platform_admin=True)
    state = await billing.overview(session=session, tenant_id=tenant.id)
    return TenantRow(
        tenant=tenant,
        billing=state,
        plan_code=state["plan"]["code"],
        failing_endpoints=len(await webhooks.failing_endpoints(session=session, tenant_id=tenant.id)),
        backlog=await deliveries.backlog(session=session, tenant_id=tenant.id),
    )


@router.get("/admin")
async def admin_page(
    request: Request, user: Operator, session: RequestSession, cursor: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """The tenants, newest first, 25 a page: status, plan (and its source), subscription, usage, failing endpoints
    and backlog, each linking to its management page."""
    params = page_params(cursor)
    rows = await tenants.list_page(session=session, params=params)
    lines = [await _row(session, tenant) for tenant in rows[: params.limit]]
    return render(
        request, "admin.html", user, active="admin", title="Admin", tenants=lines, next_cursor=next_cursor(rows, params),
        notice=request.query_params.get("notice"),
    )


async def _tenant_page(
    request: Request, user: ConsoleUser, session: AsyncSession, tenant_id: uuid.UUID, *, status_code: int = 200,
    errors: list[str] | None = None, form: dict[str, str] | None = None,
) -> Response:
    await set_scope(session, tenant_id, platform_admin=True)
    tenant = await tenants.get(session=session, tenant_id=tenant_id)
    if tenant is None:
        raise TenantNotFound("No such tenant.")
    line = await _row(session, tenant)
    return render(
        request, "admin_tenant.html", user, active="admin", title=f"Tenant {tenant.name}", status_code=status_code,
        t=line, plans=await plans.list_plans(session=session), errors=errors or [], form=form or {},
        notice=request.query_params.get("notice"),
    )


def _back(tenant_id: uuid.UUID, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/console/admin/tenants/{tenant_id}?notice={quote(notice)}", status_code=303)


@router.get("/admin/tenants/{tenant_id}")
async def tenant_page(tenant_id: uuid.UUID, request: Request, user: Operator, session: RequestSession) -> Response:
    """One tenant: its figures, suspend/resume, and the plan-override form; 404 page for no such tenant."""
    return await _tenant_page(request, user, session, tenant_id)


@router.post("/admin/tenants/{tenant_id}/status")
async def set_status(tenant_id: uuid.UUID, request: Request, user: Operator, session: RequestSession) -> Response:
    """Suspend (needs the `confirm` box ticked) or resume the tenant, as PATCH /v1/tenants/{id} `status` does
    (event and audit entry by `tenants.update`). A refusal (no confirmation, a deleted tenant) shows on the page, 4xx,
    and changes nothing."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    status = form.get("status", "")
    if status not in STATUS_ACTIONS:
        return await _tenant_page(request, user, session, tenant_id, status_code=422, errors=["status: choose suspended or active."])
    if status == "suspended" and form.get("confirm") != "yes":
        return await _tenant_page(
            request, user, session, tenant_id, status_code=422,
            errors=["Tick the confirmation box to suspend this tenant: every one of its keys will be refused."],
        )
    await set_scope(session, tenant_id, platform_admin=True)
    try:
        tenant = await tenants.update(
            session=session, tenant_id=tenant_id, changes={"status": status}, actor=user.principal, request=request
        )
    except Problem as exc:
        await session.rollback()
        return await _tenant_page(request, user, session, tenant_id, status_code=exc.status, errors=problem_lines(exc))
    if tenant is None:
        raise TenantNotFound("No such tenant.")
    return _back(tenant_id, STATUS_ACTIONS[status])


def _until(text: str) -> datetime | str | None:
    """The form's `until` (datetime-local, UTC) as an aware datetime; unparseable text is kept for the model to refuse."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@router.post("/admin/tenants/{tenant_id}/plan")
async def set_plan_override(tenant_id: uuid.UUID, request: Request, user: Operator, session: RequestSession) -> Response:
    """Set the tenant's plan override `{plan, until?, reason}` (validated as PUT /v1/tenants/{id}/plan's body, and
    written by the same service with its audit entry). Bad input shows on the form (422) and changes nothing."""
    form = {k: v.strip() for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        body = PlanOverrideSet.model_validate(
            {"plan": form.get("plan", ""), "until": _until(form.get("until", "")), "reason": form.get("reason", "")}
        )
    except ValidationError as exc:
        return await _tenant_page(request, user, session, tenant_id, status_code=422, errors=errors_of(exc), form=form)
    await set_scope(session, tenant_id, platform_admin=True)
    if await tenants.get(session=session, tenant_id=tenant_id) is None:
        raise TenantNotFound("No such tenant.")
    try:
        await overrides.set_override(
            session=session, tenant_id=tenant_id, plan_code=body.plan, until=body.until, reason=body.reason,
            limits={}, actor=user.principal, request=request,
        )
    except Problem as exc:
        await session.rollback()
        return await _tenant_page(request, user, session, tenant_id, status_code=exc.status, errors=problem_lines(exc), form=form)
    return _back(tenant_id, f"Plan override set: {body.plan}.")


@router.post("/admin/tenants/{tenant_id}/plan/remove")
async def remove_plan_override(tenant_id: uuid.UUID, request: Request, user: Operator, session: RequestSession) -> Response:
    """Remove the tenant's plan override (as DELETE /v1/tenants/{id}/plan): Stripe's plan, or free, applies again."""
    await set_scope(session, tenant_id, platform_admin=True)
    if await tenants.get(session=session, tenant_id=tenant_id) is None:
        raise TenantNotFound("No such tenant.")
    removed = await overrides.clear_override(session=session, tenant_id=tenant_id, actor=user.principal, request=request)
    return _back(tenant_id, "Plan override removed." if removed else "This tenant had no plan override.")
