"""/console/api-keys: the tenant's API keys (tenant admins): list, create (the key shown once, with a copy button), revoke."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from app.api.deps import RequestSession
from app.auth import service
from app.auth.errors import ApiKeyNotFound
from app.auth.schemas import ApiKeyCreate
from app.console.forms import errors_of
from app.console.security import Manager
from app.console.templating import render
from app.core.pagination import PageParams

router = APIRouter()


async def _page(request: Request, user: Manager, session: RequestSession, **context: object) -> Response:
    rows = await service.list_page(session=session, tenant_id=user.principal.tenant, params=PageParams(after_id=None, limit=200))
    return render(
        request, "api_keys.html", user, active="keys", title="API keys", keys=rows[:200], current_key=user.principal.key_id,
        now=datetime.now(timezone.utc), **{"errors": [], "notice": request.query_params.get("notice"), **context},
    )


@router.get("/api-keys")
async def keys_page(request: Request, user: Manager, session: RequestSession) -> Response:
    """Every key of the tenant: prefix, name, role, created, last used, expiry, revocation (never a secret)."""
    return await _page(request, user, session)


@router.post("/api-keys")
async def create_key(request: Request, user: Manager, session: RequestSession) -> Response:
    """Issue a key (as POST /v1/tenants/{id}/api-keys); the page shows it once, with a copy button."""
    form = await request.form()
    raw_expiry = str(form.get("expires_at") or "").strip()
    try:
        expires = datetime.fromisoformat(raw_expiry).replace(tzinfo=timezone.utc) if raw_expiry else None
        body = ApiKeyCreate.model_validate({"name": str(form.get("name") or "").strip(), "role": form.get("role"), "expires_at": expires})
    except ValueError as exc:
        errors = errors_of(exc) if isinstance(exc, ValidationError) else [f"expires_at: {exc}"]
        return await _page(request, user, session, errors=errors, status_code=422)
    row, secret = await service.issue(
        session=session, tenant_id=user.principal.tenant, name=body.name, role=body.role, expires_at=body.expires_at,
        actor=user.principal, request=request,
    )
    return await _page(request, user, session, created=row, secret=secret,
                       notice="Key created. Copy it now: it is shown only once and cannot be recovered.")


@router.post("/api-keys/{key_id}/revoke")
async def revoke_key(key_id: uuid.UUID, request: Request, user: Manager, session: RequestSession) -> Response:
    """Revoke a key (as DELETE /v1/tenants/{id}/api-keys/{key_id}): every request and console session with it ends now."""
    revoked = await service.revoke(
        session=session, tenant_id=user.principal.tenant, key_id=key_id, actor=user.principal, request=request
    )
    if revoked is None:
        raise ApiKeyNotFound("No such API key.")
    return RedirectResponse("/console/api-keys?notice=" + quote("Key revoked."), status_code=303)
