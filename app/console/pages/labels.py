"""/console/labels: the tenant's labels, booking one from a form (with a service-point picker), the files."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from app.api.deps import RequestSession, cipher_or_problem
from app.carriers import registry
from app.carriers.deps import Http
from app.carriers.locations import ServicePointQuery
from app.console.forms import address_from, errors_of, integer, problem_lines
from app.console.pages.orders import next_cursor, page_params
from app.console.security import Manager, Viewer
from app.console.templating import render
from app.core.problems import NotFound, Problem
from app.labels import batches, booking
from app.labels import service as labels
from app.labels.errors import LabelDocumentNotFound
from app.labels.router import MEDIA_TYPES
from app.labels.schemas import LabelCreate, LabelStatus
from app.core.pagination import PageParams
from app.integrations import service as integrations
from app.locations import service as locations
from app.pos import service as orders

router = APIRouter()


def bookable_carriers() -> list[dict[str, Any]]:
    """The registered carriers that book labels, each with its services and whether it has a service-point locator."""
    return [
        {**c, "service_points": "find_service_points" in c["capabilities"]}
        for c in registry.describe()
        if "create_shipment" in c["capabilities"] and c["services"]
    ]


@router.get("/labels")
async def list_labels(
    request: Request,
    user: Viewer,
    session: RequestSession,
    carrier: Annotated[str | None, Query(max_length=50)] = None,
    status: Annotated[LabelStatus | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    notice: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Newest first, 25 a page, by carrier and status, each with its files."""
    params = page_params(cursor)
    tenant_id = user.principal.tenant
    rows = await labels.list_page(session=session, tenant_id=tenant_id, params=params, carrier=carrier or None, status=status)
    shown = rows[: params.limit]
    return render(
        request, "labels.html", user, active="labels", title="Labels", labels=shown, next_cursor=next_cursor(rows, params),
        documents=await labels.documents_of(session=session, tenant_id=tenant_id, label_ids=[r.id for r in shown]),
        carriers=[c["code"] for c in registry.describe()], carrier=carrier or "", status=status or "", notice=notice,
        batches=await batches.recent(session=session, tenant_id=tenant_id),
    )


def _form_page(request: Request, user: Any, form: dict[str, str], *, errors: list[str] | None = None, status_code: int = 200) -> Response:
    carriers = bookable_carriers()
    chosen = next((c for c in carriers if c["code"] == form.get("carrier")), carriers[0] if carriers else None)
    form.setdefault("idempotency_key", str(uuid.uuid4()))  # one booking per rendered form, even if sent twice
    return render(
        request, "label_new.html", user, active="labels", title="Book a label", carriers=carriers, carrier=chosen,
        form=form, errors=errors or [], status_code=status_code,
    )


@router.get("/labels/new")
async def new_label(
    request: Request,
    user: Manager,
    session: RequestSession,
    carrier: Annotated[str | None, Query(max_length=50)] = None,
    order_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    """The booking form for `carrier` (default: the first that books): its services, addresses, one parcel.

    Without `carrier`: the carrier of the tenant's newest active integration. With `order_id` (the order page's "Book a label"), the label is booked for that order and the
    recipient is filled in from the order's shipping address; 404 page for an order the tenant does not have.
    """
    if not carrier:  # the carrier of the tenant's newest active integration, if any
        connected = await integrations.list_page(
            session=session, tenant_id=user.principal.tenant, params=PageParams(after_id=None, limit=1), is_active=True
        )
        carrier = connected[0].carrier if connected else None
    form = {"carrier": carrier or "", "label_format": "pdf"}
    if order_id is not None:
        order = await orders.get(session=session, tenant_id=user.principal.tenant, order_id=order_id)
        if order is None:
            raise NotFound("No such order.")
        form.update(order_id=str(order.id), reference=(order.order_number or order.external_id)[:35])
        form.update(recipient_from_order(order.shipping_address or {}))
    return _form_page(request, user, form)


def recipient_from_order(address: dict[str, Any]) -> dict[str, str]:
    """The booking form's recipient fields from an order's canonical shipping address (app.pos.canonical)."""
    pairs = {"name": "name", "company": "company", "line1": "line1", "line2": "line2", "city": "city",
             "postal_code": "postal_code", "state": "region", "country": "country", "phone": "phone", "email": "email"}
    return {f"recipient_{field}": str(address[key]) for field, key in pairs.items() if address.get(key)}


def label_body(form: dict[str, str]) -> dict[str, Any]:
    """The `POST /v1/labels` body of the booking form's fields."""
    parcel = {k: integer(form, k) for k in ("weight_grams", "length_mm", "width_mm", "height_mm")}
    body: dict[str, Any] = {
        "carrier": form.get("carrier", ""),
        "service": form.get("service", ""),
        "shipper": address_from(form, "shipper"),
        "recipient": address_from(form, "recipient"),
        "parcels": [{k: v for k, v in parcel.items() if v is not None}],
        "label_format": form.get("label_format") or "pdf",
    }
    for name in ("reference", "service_point_id", "order_id"):
        if (form.get(name) or "").strip():
            body[name] = form[name].strip()
    return body


@router.post("/labels/new")
async def book_label(request: Request, user: Manager, session: RequestSession, http: Http) -> Response:
    """Book the form's label through the same booking as `POST /v1/labels` (app.labels.booking.book), exactly once
    per rendered form (its hidden key is the booking's idempotency key). Field errors and carrier refusals show on
    the form again; a booked label goes to its shipment's page."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        body = LabelCreate.model_validate(label_body(form))
    except ValidationError as exc:
        return _form_page(request, user, form, errors=errors_of(exc), status_code=422)
    settings = request.app.state.settings
    key = "console:" + (form.get("idempotency_key") or str(uuid.uuid4()))[:100]
    digest = hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
    try:
        booked = await booking.book(
            session=session, tenant_id=user.principal.tenant, body=body, key=key, request_hash=digest,
            settings=settings, cipher=cipher_or_problem(settings), http=http,
        )
    except Problem as exc:
        if exc.status != 409:  # nothing was booked: the corrected form is a new booking
            form.pop("idempotency_key", None)
        return _form_page(request, user, form, errors=problem_lines(exc), status_code=exc.status)
    label = booked.label
    target = f"/console/shipments/{label.shipment_id}" if label.shipment_id else "/console/labels"
    return RedirectResponse(target, status_code=303)


@router.get("/labels/service-points")
async def service_points(
    request: Request,
    user: Manager,
    session: RequestSession,
    http: Http,
    carrier: Annotated[str, Query(max_length=50)],
    recipient_country: Annotated[str, Query(max_length=2)] = "",
    recipient_postal_code: Annotated[str, Query(max_length=20)] = "",
    recipient_city: Annotated[str, Query(max_length=60)] = "",
    recipient_line1: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """htmx partial: a picker of the carrier's service points near the recipient (GET /v1/service-points' service)."""
    await session.commit()  # no transaction held while the carrier answers
    settings = request.app.state.settings
    points: list[Any] = []
    failures: list[str] = []
    try:
        query = ServicePointQuery(
            country=recipient_country.upper(), postal_code=recipient_postal_code, city=recipient_city or None,
            street=recipient_line1 or None, limit=10,
        )
        points, failed = await locations.find_service_points(
            db=request.app.state.db, tenant_id=user.principal.tenant, carriers=[carrier], query=query, settings=settings,
            cipher=cipher_or_problem(settings), http=http, cache=locations.shared_cache(request.app.state),
        )
        failures = [f.detail for f in failed]
    except ValueError:
        failures = ["Enter the recipient's country and postal code first."]
    except Problem as exc:
        failures = [exc.detail]
    return render(request, "_service_points.html", user, points=points, failures=failures)


@router.get("/labels/{label_id}/documents/{n}")
async def label_document(label_id: uuid.UUID, n: int, user: Viewer, session: RequestSession) -> Response:
    """Document `n` of a label, as a download (the same file as GET /v1/labels/{id}/documents/{n})."""
    tenant_id = user.principal.tenant
    label = await labels.get_or_404(session=session, tenant_id=tenant_id, label_id=label_id)
    doc = await labels.document(session=session, tenant_id=tenant_id, label_id=label.id, n=n) if 0 <= n <= 1000 else None
    if doc is None:
        raise LabelDocumentNotFound(f"Label {label.id} has no document {n}.")
    name = f"{label.master_tracking_number or label.id}-{doc.type}-{n}.{doc.format}"
    return Response(
        content=doc.content, media_type=MEDIA_TYPES[doc.format],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"},
    )
