"""/console/webhooks: the tenant's webhook endpoints (create, enable/disable, rotate secret, test ping, replay since a
time) and each endpoint's deliveries with their attempts (response code, body excerpt) and a retry button."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.api.deps import RequestSession, cipher_or_problem
from app.console.forms import problem_lines
from app.console.pages.orders import next_cursor, page_params
from app.console.security import Manager, Viewer
from app.console.templating import render
from app.core.pagination import PageParams
from app.core.problems import Problem
from app.webhooks import deliveries, service
from app.webhooks.errors import InvalidReplayWindow
from app.webhooks.schemas import DeliveryStatus

router = APIRouter()

BODY_EXCERPT_CHARS = 300


def _back(endpoint_id: uuid.UUID, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/console/webhooks/{endpoint_id}?notice={quote(notice[:180])}", status_code=303)


async def _list_page(
    request: Request, user: Viewer, session: RequestSession, *, status_code: int = 200, **context: object
) -> Response:
    rows = await service.list_page(session=session, tenant_id=user.principal.tenant, params=PageParams(after_id=None, limit=100))
    return render(
        request, "webhooks.html", user, status_code=status_code, active="webhooks", title="Webhooks", endpoints=rows[:100],
        **context,
    )


@router.get("/webhooks")
async def webhooks_page(request: Request, user: Viewer, session: RequestSession) -> Response:
    """The tenant's endpoints (never their secrets); the create form for tenant admins."""
    return await _list_page(request, user, session, form={}, errors=[], notice=request.query_params.get("notice"))


@router.post("/webhooks")
async def create_endpoint(request: Request, user: Manager, session: RequestSession) -> Response:
    """Create an endpoint (as POST /v1/webhook-endpoints); its signing secret is shown once. Refusals (an unsafe
    URL, the plan's endpoint quota) show on the form again."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    event_types = [t.strip() for t in (form.get("event_types") or "*").replace("\n", ",").split(",") if t.strip()]
    try:
        endpoint, secret = await service.create(
            session=session, tenant_id=user.principal.tenant, cipher=cipher_or_problem(request.app.state.settings),
            dev_hosts=request.app.state.settings.webhook_dev_hosts, url=(form.get("url") or "").strip(),
            event_types=event_types, description=(form.get("description") or "").strip() or None, enabled=True,
            actor=user.principal, request=request,
        )
    except Problem as exc:
        await session.rollback()
        return await _list_page(request, user, session, form=form, errors=problem_lines(exc), status_code=exc.status)
    return await _list_page(request, user, session, form={}, errors=[], created=endpoint, secret=secret,
                            notice="Endpoint created. Copy its signing secret now: it is shown only once.")


@router.get("/webhooks/{endpoint_id}")
async def endpoint_page(
    endpoint_id: uuid.UUID,
    request: Request,
    user: Viewer,
    session: RequestSession,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """One endpoint and its deliveries, newest first, 25 a page, each with its last attempts."""
    tenant_id = user.principal.tenant
    endpoint = await service.get_or_404(session=session, tenant_id=tenant_id, endpoint_id=endpoint_id)
    params = page_params(cursor)
    rows = await deliveries.list_deliveries(session=session, endpoint=endpoint, params=params, status=status)
    shown = rows[: params.limit]
    attempts = await deliveries.recent_attempts(session=session, tenant_id=tenant_id, delivery_ids=[d.id for d in shown])
    return render(
        request, "webhook.html", user, active="webhooks", title="Webhook endpoint", endpoint=endpoint,
        deliveries=shown, attempts=attempts, next_cursor=next_cursor(rows, params), status=status or "",
        excerpt=BODY_EXCERPT_CHARS, notice=request.query_params.get("notice"),
        rotation_ends=service.secret_rotation_ends_at(endpoint),
    )


@router.post("/webhooks/{endpoint_id}/enabled")
async def set_enabled(endpoint_id: uuid.UUID, request: Request, user: Manager, session: RequestSession) -> Response:
    """Enable (clears the failure state) or disable (fails queued deliveries) the endpoint, as PATCH `enabled` does."""
    form = await request.form()
    enabled = form.get("enabled") == "true"
    endpoint = await service.get_or_404(session=session, tenant_id=user.principal.tenant, endpoint_id=endpoint_id, for_update=True)
    await service.update(
        session=session, endpoint=endpoint, changes={"enabled": enabled}, dev_hosts=request.app.state.settings.webhook_dev_hosts,
        actor=user.principal, request=request,
    )
    return _back(endpoint_id, "Endpoint enabled." if enabled else "Endpoint disabled.")


@router.post("/webhooks/{endpoint_id}/rotate-secret")
async def rotate_secret(endpoint_id: uuid.UUID, request: Request, user: Manager, session: RequestSession) -> Response:
    """A new signing secret, shown once; the old one keeps signing through the rotation overlap."""
    settings = request.app.state.settings
    endpoint = await service.get_or_404(session=session, tenant_id=user.principal.tenant, endpoint_id=endpoint_id, for_update=True)
    secret, expires_at = await service.rotate_secret(
        session=session, endpoint=endpoint, cipher=cipher_or_problem(settings), overlap_seconds=settings.webhook_secret_rotation_overlap_seconds,
        actor=user.principal, request=request,
    )
    return render(
        request, "webhook.html", user, active="webhooks", title="Webhook endpoint", endpoint=endpoint, deliveries=[],
        attempts={}, next_cursor=None, status="", excerpt=BODY_EXCERPT_CHARS, secret=secret, rotation_ends=expires_at,
        notice="New signing secret issued: it is shown only once.",
    )


@router.post("/webhooks/{endpoint_id}/test")
async def send_ping(endpoint_id: uuid.UUID, user: Manager, session: RequestSession) -> Response:
    """Queue a `ping` event to this endpoint only (as POST /v1/webhook-endpoints/{id}/test)."""
    endpoint = await service.get_or_404(session=session, tenant_id=user.principal.tenant, endpoint_id=endpoint_id, for_update=True)
    await deliveries.send_test(session=session, endpoint=endpoint)
    return _back(endpoint_id, "Test ping queued.")


@router.post("/webhooks/{endpoint_id}/replay")
async def replay(endpoint_id: uuid.UUID, request: Request, user: Manager, session: RequestSession) -> Response:
    """Send again every subscribed event since the given time (UTC), as POST /v1/webhook-endpoints/{id}/replay."""
    form = await request.form()
    text = str(form.get("since") or "").strip()
    try:
        since = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidReplayWindow(f"'{text}' is not a date and time (YYYY-MM-DDTHH:MM).") from None
    since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
    endpoint = await service.get_or_404(session=session, tenant_id=user.principal.tenant, endpoint_id=endpoint_id, for_update=True)
    outcome = await deliveries.replay(session=session, endpoint=endpoint, since=since, until=None)
    more = " (more remain: replay again from the last one)" if outcome.truncated else ""
    return _back(endpoint_id, f"{outcome.replayed} events queued again{more}.")


@router.post("/deliveries/{delivery_id}/retry")
async def retry(delivery_id: uuid.UUID, user: Manager, session: RequestSession) -> Response:
    """Send the delivery again now (as POST /v1/deliveries/{id}/retry); back to its endpoint's page."""
    delivery = await deliveries.get_delivery_or_404(session=session, tenant_id=user.principal.tenant, delivery_id=delivery_id)
    delivery = await deliveries.retry_delivery(session=session, delivery=delivery)
    return _back(delivery.endpoint_id, "Delivery queued to be sent again now.")
