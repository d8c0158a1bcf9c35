"""/v1/label-batches: queue up to 1,000 bookings, follow them, retry the failed ones, print them all at once."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Query, Response

from app.api.deps import MERCHANT_OR_ADMIN, MerchantOrAdmin, TenantSession, idempotent
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.core.problems import problem_responses
from app.idempotency.errors import IdempotencyKeyInFlight, IdempotencyKeyInvalid, IdempotencyKeyMissing, IdempotencyKeyReused
from app.idempotency.service import IdempotentRequest
from app.labels import batches
from app.labels.batch_schemas import LabelBatchCreate, LabelBatchOut
from app.labels.errors import LabelBatchNotFound, LabelDocumentNotFound
from app.labels.router import MEDIA_TYPES

router = PipelineRouter(prefix="/v1/label-batches", tags=["labels"])


@router.post(
    "",
    status_code=202,
    response_model=LabelBatchOut,
    summary="Queue a batch of label bookings",
    responses=problem_responses(
        PIPELINE_PROBLEMS, IdempotencyKeyMissing, IdempotencyKeyInvalid, IdempotencyKeyInFlight, IdempotencyKeyReused
    ),
)
async def create_batch(
    body: LabelBatchCreate,
    request: Annotated[IdempotentRequest, idempotent(MERCHANT_OR_ADMIN, required=True)],
) -> Response:
    """Queue 1-1,000 bookings (each a `POST /v1/labels` body with its own `reference`); 202 with the batch.

    The `Idempotency-Key` header is required: a retry answers the same batch.
    Each item is booked by the worker exactly once, under the key
    `batch:<batch id>:<reference>`, with at most
    LABEL_BATCH_CONCURRENCY_PER_CARRIER bookings per carrier at once and the
    carrier's rate limits honoured. Follow it with `GET /v1/label-batches/{id}`;
    `label_batch.completed` is written when every item is booked or failed.
    """
    batch, items = await batches.create(
        session=request.session, tenant_id=request.tenant_id, body=body, idempotency_key=request.key or ""
    )
    return await request.respond(202, LabelBatchOut.of(batch, items))


@router.get(
    "/{batch_id}",
    response_model=LabelBatchOut,
    summary="Get a label batch",
    responses=problem_responses(PIPELINE_PROBLEMS, LabelBatchNotFound),
)
async def get_batch(batch_id: uuid.UUID, principal: MerchantOrAdmin, session: TenantSession) -> LabelBatchOut:
    """The batch's `status`, counts (queued / booked / failed) and each item's label id or error, in order."""
    batch = await batches.get_or_404(session=session, tenant_id=principal.tenant, batch_id=batch_id)
    return LabelBatchOut.of(batch, await batches.items_of(session=session, tenant_id=principal.tenant, batch_id=batch.id))


@router.post(
    "/{batch_id}/retry-failed",
    status_code=202,
    response_model=LabelBatchOut,
    summary="Book the failed items again",
    responses=problem_responses(PIPELINE_PROBLEMS, LabelBatchNotFound),
)
async def retry_failed(batch_id: uuid.UUID, principal: MerchantOrAdmin, session: TenantSession) -> LabelBatchOut:
    """Queue every failed item again (fix the cause first: a plan's quota, the integration). An item whose
    booking reached the carrier without an answer stays failed: it is never sent twice."""
    batch = await batches.get_or_404(session=session, tenant_id=principal.tenant, batch_id=batch_id, for_update=True)
    await batches.retry_failed(session=session, batch=batch)
    return LabelBatchOut.of(batch, await batches.items_of(session=session, tenant_id=principal.tenant, batch_id=batch.id))


@router.get(
    "/{batch_id}/documents",
    summary="Every label of the batch in one file",
    response_class=Response,
    responses={
        200: {
            "description": "One PDF (pages in item order) or the ZPL of every label one after the other.",
            "content": {MEDIA_TYPES[f]: {"schema": {"type": "string", "format": "binary"}} for f in ("pdf", "zpl")},
        },
        **problem_responses(PIPELINE_PROBLEMS, LabelBatchNotFound, LabelDocumentNotFound),
    },
)
async def batch_documents(
    batch_id: uuid.UUID,
    principal: MerchantOrAdmin,
    session: TenantSession,
    format: Annotated[Literal["pdf", "zpl"], Query(description="`pdf`: merged PDF; `zpl`: concatenated ZPL.")] = "pdf",
) -> Response:
    """The labels of every booked item, in item order, ready for the label printer (items in another format are left out;
    `X-Label-Count` says how many labels the file holds). 404 `not-found` while none is booked in that format."""
    batch = await batches.get_or_404(session=session, tenant_id=principal.tenant, batch_id=batch_id)
    content, count = await batches.merged_documents(session=session, tenant_id=principal.tenant, batch_id=batch.id, format=format)
    if not count:
        raise LabelDocumentNotFound(f"No booked label of batch {batch.id} is in {format}.")
    return Response(
        content=content,
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'inline; filename="batch-{batch.id}.{format}"',
            "X-Label-Count": str(count),
        },
    )
