"""/console/carriers: the tenant's integrations (masked credentials), connecting one from the carrier's JSON Schema,
testing the connection, replacing credentials and rotating the inbound webhook secret."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.api.deps import RequestSession, cipher_or_problem
from app.carriers import registry
from app.carriers.deps import Http
from app.console.forms import problem_lines
from app.console.schema_form import fields_of, values_of
from app.console.security import Manager, Viewer
from app.console.templating import render
from app.core.pagination import PageParams
from app.core.problems import NotFound, Problem
from app.integrations import checks, credentials, service
from app.integrations.models import Integration

router = APIRouter()


def _carrier(code: str) -> dict[str, Any]:
    found = next((c for c in registry.describe() if c["code"] == code), None)
    if found is None:
        raise NotFound(f"No carrier '{code}' on this server.")
    return found


def _view(row: Integration, request: Request) -> dict[str, Any]:
    cipher = cipher_or_problem(request.app.state.settings)
    return {
        "row": row,
        "masked": credentials.masked_credentials(integration=row, cipher=cipher) or {},
        "inbound_url": request.app.state.settings.public_base + service.inbound_path(row.carrier, row.id),
    }


@router.get("/carriers")
async def carriers_page(request: Request, user: Viewer, session: RequestSession) -> Response:
    """The tenant's integrations, and every carrier it can connect."""
    rows = await service.list_page(session=session, tenant_id=user.principal.tenant, params=PageParams(after_id=None, limit=100))
    return render(
        request, "carriers.html", user, active="carriers", title="Carriers",
        integrations=[_view(r, request) for r in rows[:100]], carriers=registry.describe(),
        notice=request.query_params.get("notice"),
    )


def _connect_page(request: Request, user: Manager, carrier: dict[str, Any], form: dict[str, str], errors: list[str], status_code: int = 200) -> Response:
    return render(
        request, "carrier_connect.html", user, active="carriers", title=f"Connect {carrier['name']}", carrier=carrier,
        fields=fields_of(carrier["credentials_schema"]), form=form, errors=errors, status_code=status_code,
    )


@router.get("/carriers/connect/{code}")
async def connect_form(code: str, request: Request, user: Manager) -> Response:
    """The connect form: name, environment and the inputs of the carrier's credentials schema."""
    return _connect_page(request, user, _carrier(code), {"name": "default", "environment": "production"}, [])


@router.post("/carriers/connect/{code}")
async def connect(code: str, request: Request, user: Manager, session: RequestSession) -> Response:
    """Store the integration (validated against the schema, encrypted) as POST /v1/integrations does; the page then
    shows its inbound webhook secret, once. Invalid credentials show on the form again (never their values)."""
    carrier = _carrier(code)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    cipher = cipher_or_problem(request.app.state.settings)
    try:
        row, secret = await service.create(
            session=session, tenant_id=user.principal.tenant, cipher=cipher, carrier=code,
            name=(form.get("name") or "default").strip()[:100], environment=form.get("environment") or "production",
            credentials=values_of(fields_of(carrier["credentials_schema"]), form),
            actor=user.principal, request=request, given=("carrier", "name", "environment", "credentials"),
        )
    except Problem as exc:
        safe = {k: form[k] for k in ("name", "environment") if k in form}
        return _connect_page(request, user, carrier, safe, problem_lines(exc), exc.status)
    return render(
        request, "carrier.html", user, active="carriers", title=f"{carrier['name']} · {row.name}",
        notice="Connected. Configure the webhook secret below at the carrier now: it is shown only once.",
        secret=secret, fields=fields_of(carrier["credentials_schema"]), **_view(row, request),
    )


@router.get("/carriers/{integration_id}")
async def integration_page(integration_id: uuid.UUID, request: Request, user: Viewer, session: RequestSession) -> Response:
    """One integration: masked credentials, last test, inbound webhook URL; test, rotate and replace for tenant admins."""
    row = await service.get_or_404(session=session, tenant_id=user.principal.tenant, integration_id=integration_id)
    return render(
        request, "carrier.html", user, active="carriers", title=f"{row.carrier} · {row.name}",
        fields=fields_of(_carrier(row.carrier)["credentials_schema"]), notice=request.query_params.get("notice"),
        **_view(row, request),
    )


@router.post("/carriers/{integration_id}/test")
async def test_connection(integration_id: uuid.UUID, request: Request, user: Manager, session: RequestSession, http: Http) -> Response:
    """Test the stored credentials at the carrier (as POST /v1/integrations/{id}/test) and show the outcome."""
    settings = request.app.state.settings
    outcome = await checks.test_connection(
        session=session, tenant_id=user.principal.tenant, integration_id=integration_id, settings=settings,
        cipher=cipher_or_problem(settings), http=http,
    )
    message = "Connection OK." if outcome.status == "ok" else f"Connection failed: {outcome.error}"
    return RedirectResponse(f"/console/carriers/{integration_id}?notice={_q(message)}", status_code=303)


@router.post("/carriers/{integration_id}/rotate-webhook-secret")
async def rotate(integration_id: uuid.UUID, request: Request, user: Manager, session: RequestSession) -> Response:
    """A new inbound webhook secret, shown once; the previous one keeps working for the rotation overlap."""
    settings = request.app.state.settings
    cipher = cipher_or_problem(settings)
    row = await service.get_or_404(session=session, tenant_id=user.principal.tenant, integration_id=integration_id, for_update=True)
    secret = await service.rotate_webhook_secret(
        session=session, integration=row, cipher=cipher, overlap_seconds=settings.webhook_secret_rotation_overlap_seconds,
        actor=user.principal, request=request,
    )
    return render(
        request, "carrier.html", user, active="carriers", title=f"{row.carrier} · {row.name}",
        notice="New webhook secret issued: update it at the carrier; it is shown only once.", secret=secret,
        fields=fields_of(_carrier(row.carrier)["credentials_schema"]), **_view(row, request),
    )


@router.post("/carriers/{integration_id}/credentials")
async def replace_credentials(integration_id: uuid.UUID, request: Request, user: Manager, session: RequestSession) -> Response:
    """Replace the credentials as a whole (validated, re-encrypted; the last test result is cleared)."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    cipher = cipher_or_problem(request.app.state.settings)
    row = await service.get_or_404(session=session, tenant_id=user.principal.tenant, integration_id=integration_id, for_update=True)
    fields = fields_of(_carrier(row.carrier)["credentials_schema"])
    try:
        await service.update(
            session=session, integration=row, cipher=cipher, changes={"credentials": values_of(fields, form)},
            actor=user.principal, request=request,
        )
    except Problem as exc:
        await session.rollback()
        row = await service.get_or_404(session=session, tenant_id=user.principal.tenant, integration_id=integration_id)
        return render(
            request, "carrier.html", user, active="carriers", title=f"{row.carrier} · {row.name}", fields=fields,
            errors=problem_lines(exc), status_code=exc.status, **_view(row, request),
        )
    return RedirectResponse(f"/console/carriers/{integration_id}?notice={_q('Credentials replaced.')}", status_code=303)


def _q(text: str) -> str:
    return quote(text[:180])
