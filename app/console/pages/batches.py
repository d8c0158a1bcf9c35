"""/console/labels/batches: upload a CSV as a label batch, watch it being booked (htmx polling), print it all at once."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.api.deps import RequestSession
from app.console.forms import address_from, errors_of
from app.console.pages.labels import bookable_carriers
from app.console.security import Manager, Viewer
from app.console.templating import render
from app.labels import batches
from app.labels.batch_csv import CsvError, read_items
from app.labels.batch_schemas import LabelBatchCreate, LabelBatchOut
from app.labels.errors import LabelDocumentNotFound
from app.labels.router import MEDIA_TYPES

router = APIRouter()

MAX_CSV_BYTES = 900 * 1024
"""The largest CSV the upload takes (1,000 rows fit several times over; the request cap MAX_BODY_BYTES is above it)."""
POLL_SECONDS = 2
"""How often the batch page asks for progress (the requests count against the key's per-minute plan limit)."""


def _form_page(request: Request, user: Manager, form: dict[str, str], errors: list[str], status_code: int = 200) -> Response:
    form.setdefault("idempotency_key", str(uuid.uuid4()))
    return render(
        request, "batch_new.html", user, active="labels", title="Upload a label batch", carriers=bookable_carriers(),
        form=form, errors=errors, status_code=status_code,
    )


@router.get("/labels/batches/new")
async def new_batch(request: Request, user: Manager) -> Response:
    """The upload form: carrier and service, the shipper, the label format and the CSV (columns: app.labels.batch_csv)."""
    return _form_page(request, user, {"label_format": "pdf"}, [])


@router.post("/labels/batches/new")
async def upload_batch(request: Request, user: Manager, session: RequestSession) -> Response:
    """Queue the CSV's rows as one batch (the same `create` as POST /v1/label-batches), once per rendered form;
    every bad row is listed on the form again and nothing is queued."""
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    upload = raw.get("file")
    text = ""
    if isinstance(upload, UploadFile):
        data = await upload.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            return _form_page(request, user, form, [f"The CSV is larger than {MAX_CSV_BYTES // 1024} KiB."], 413)
        text = data.decode("utf-8-sig", errors="replace")
    carrier, service = form.get("carrier", ""), form.get("service", "")
    if ":" in service:  # the picker's values are "<carrier>:<service>"
        carrier, service = service.split(":", 1)
    try:
        items = read_items(
            text, carrier=carrier, service=service, shipper=address_from(form, "shipper"),
            label_format=form.get("label_format") or "pdf",
        )
        body = LabelBatchCreate.model_validate({"items": items})
    except CsvError as exc:
        return _form_page(request, user, form, exc.problems, 422)
    except ValidationError as exc:
        return _form_page(request, user, form, errors_of(exc), 422)
    key = "console:" + (form.get("idempotency_key") or str(uuid.uuid4()))[:100]
    existing = await batches.by_idempotency_key(session=session, tenant_id=user.principal.tenant, key=key)
    batch = existing or (await batches.create(session=session, tenant_id=user.principal.tenant, body=body, idempotency_key=key))[0]
    return RedirectResponse(f"/console/labels/batches/{batch.id}", status_code=303)


async def _batch(session: RequestSession, user: Viewer, batch_id: uuid.UUID) -> dict[str, object]:
    """The batch resource (as GET /v1/label-batches/{id}) and the label formats its booked items have."""
    batch = await batches.get_or_404(session=session, tenant_id=user.principal.tenant, batch_id=batch_id)
    items = await batches.items_of(session=session, tenant_id=user.principal.tenant, batch_id=batch.id)
    formats = sorted({str(i.request.get("label_format") or "pdf") for i in items if i.status == "booked"})
    return {"batch": LabelBatchOut.of(batch, items), "formats": formats}


@router.get("/labels/batches/{batch_id}")
async def batch_page(batch_id: uuid.UUID, request: Request, user: Viewer, session: RequestSession) -> Response:
    """The batch with its progress bar (polled while it runs), its items and the merged downloads once done."""
    return render(request, "batch.html", user, active="labels", title="Label batch", poll=POLL_SECONDS, **await _batch(session, user, batch_id))


@router.get("/labels/batches/{batch_id}/progress")
async def batch_progress(batch_id: uuid.UUID, request: Request, user: Viewer, session: RequestSession) -> Response:
    """htmx partial: the progress bar, counts and items; it asks again every POLL_SECONDS until the batch is completed."""
    return render(request, "_batch_progress.html", user, poll=POLL_SECONDS, **await _batch(session, user, batch_id))


@router.get("/labels/batches/{batch_id}/documents")
async def batch_documents(
    batch_id: uuid.UUID, user: Viewer, session: RequestSession, format: Annotated[Literal["pdf", "zpl"], Query()] = "pdf"
) -> Response:
    """Every booked label of the batch in one file: merged PDF or concatenated ZPL (as GET /v1/label-batches/{id}/documents)."""
    batch = await batches.get_or_404(session=session, tenant_id=user.principal.tenant, batch_id=batch_id)
    content, count = await batches.merged_documents(session=session, tenant_id=user.principal.tenant, batch_id=batch.id, format=format)
    if not count:
        raise LabelDocumentNotFound(f"No booked label of this batch is in {format}.")
    return Response(
        content=content, media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="batch-{batch.id}.{format}"', "X-Label-Count": str(count)},
    )
