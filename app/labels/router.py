"""/v1/labels: book shipments and buy labels at the carrier, download their files, void them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Query, Response

from app.api.deps import MERCHANT_OR_ADMIN, AppSettings, CallsOut, Cipher, Db, MerchantOrAdmin, TenantSession, idempotent
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.billing.errors import QuotaExceeded
from app.carriers.deps import Http
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import CredentialsEncryptionUnconfigured, InvalidCursor, problem_responses
from app.idempotency.errors import IdempotencyKeyInFlight, IdempotencyKeyInvalid, IdempotencyKeyMissing, IdempotencyKeyReused
from app.idempotency.service import IdempotentRequest
from app.integrations.errors import (
    CARRIER_CALL_PROBLEMS,
    RESOLVE_PROBLEMS,
    CarrierRejectedRequest,
    CredentialsUndecryptable,
    ShipmentInvalid,
    StoredCredentialsInvalid,
    UnsupportedCarrier,
)
from app.labels import booking, service
from app.labels.errors import (
    LabelBookingInProgress,
    LabelDocumentNotFound,
    LabelNotFound,
    LabelNotVoidable,
    LabelOutcomeUnknown,
)
from app.labels.schemas import LabelCreate, LabelOut, LabelStatus
from app.locations.errors import AddressInvalid
from app.shipments.errors import UnknownOrder

router = PipelineRouter(prefix="/v1/labels", tags=["labels"])

MEDIA_TYPES = {"pdf": "application/pdf", "zpl": "application/x-zpl", "png": "image/png", "gif": "image/gif"}
"""Content-Type of a label document by its format."""

_ACCOUNT_PROBLEMS = (
    *RESOLVE_PROBLEMS,
    UnsupportedCarrier,
    StoredCredentialsInvalid,
    CredentialsUndecryptable,
    CredentialsEncryptionUnconfigured,
)


@router.post(
    "",
    status_code=201,
    response_model=LabelOut,
    summary="Book a shipment and buy its labels",
    responses=problem_responses(
        PIPELINE_PROBLEMS,
        IdempotencyKeyMissing,
        IdempotencyKeyInvalid,
        IdempotencyKeyInFlight,
        IdempotencyKeyReused,
        LabelBookingInProgress,
        LabelOutcomeUnknown,
        AddressInvalid,
        UnknownOrder,
        QuotaExceeded,
        ShipmentInvalid,
        CarrierRejectedRequest,
        _ACCOUNT_PROBLEMS,
        CARRIER_CALL_PROBLEMS,
    ),
)
async def create_label(
    body: LabelCreate,
    request: Annotated[IdempotentRequest, idempotent(MERCHANT_OR_ADMIN, required=True)],
    settings: AppSettings,
    cipher: Cipher,
    http: Http,
) -> Response:
    """Book the shipment at the carrier and return its label: 201 with tracking numbers, documents, price.

    The `Idempotency-Key` header is required: a retry with the same key and
    body answers the same label and never books twice, even when the first
    answer was lost after the carrier booked (the booking is recorded
    before the carrier is called). The booking registers the master
    tracking number as a tracked shipment (`shipment_id`) and writes
    `label.created`. Bad input is 422 field by field before any carrier
    call; a carrier refusal is 422 `carrier-rejected` with the carrier's own
    messages in `carrier_errors`.
    """
    return await booking.create_label(request=request, body=body, settings=settings, cipher=cipher, http=http)


@router.get(
    "",
    response_model=Page[LabelOut],
    summary="List labels",
    responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor),
)
async def list_labels(
    principal: MerchantOrAdmin,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    carrier: Annotated[str | None, Query(max_length=50, description="Only this carrier's labels.")] = None,
    order_id: Annotated[uuid.UUID | None, Query(description="Only the labels of this POS order.")] = None,
    status: Annotated[LabelStatus | None, Query(description="Only labels in this status.")] = None,
) -> dict:
    """The tenant's labels, newest first, cursor-paginated."""
    rows = await service.list_page(
        session=session, tenant_id=principal.tenant, params=params, carrier=carrier, order_id=order_id, status=status
    )
    documents = await service.documents_of(
        session=session, tenant_id=principal.tenant, label_ids=[row.id for row in rows[: params.limit]]
    )
    return make_page(rows, params, convert=lambda row: LabelOut.of(row, documents.get(row.id, [])))


@router.get(
    "/{label_id}",
    response_model=LabelOut,
    summary="Get a label",
    responses=problem_responses(PIPELINE_PROBLEMS, LabelNotFound),
)
async def get_label(label_id: uuid.UUID, principal: MerchantOrAdmin, session: TenantSession) -> LabelOut:
    """One label with its tracking numbers and documents; 404 if unknown."""
    label = await service.get_or_404(session=session, tenant_id=principal.tenant, label_id=label_id)
    documents = await service.documents_of(session=session, tenant_id=principal.tenant, label_ids=[label.id])
    return LabelOut.of(label, documents[label.id])


@router.get(
    "/{label_id}/documents/{n}",
    summary="Download a label document",
    response_class=Response,
    responses={
        200: {
            "description": "The file: `application/pdf` or `application/x-zpl`.",
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA_TYPES.values()},
        },
        **problem_responses(PIPELINE_PROBLEMS, LabelNotFound, LabelDocumentNotFound),
    },
)
async def get_label_document(
    label_id: uuid.UUID,
    n: Annotated[int, Path(ge=0, le=1000, description="0-based index in the label's `documents`.")],
    principal: MerchantOrAdmin,
    session: TenantSession,
) -> Response:
    """Document `n` (0-based, as listed in the label's `documents`) as the file itself."""
    label = await service.get_or_404(session=session, tenant_id=principal.tenant, label_id=label_id)
    doc = await service.document(session=session, tenant_id=principal.tenant, label_id=label.id, n=n)
    if doc is None:
        raise LabelDocumentNotFound(f"Label {label.id} has no document {n}.")
    extension = "zpl" if doc.format == "zpl" else doc.format
    name = f"{label.master_tracking_number or label.id}-{doc.type}-{n}.{extension}"
    return Response(
        content=doc.content,
        media_type=MEDIA_TYPES[doc.format],
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, max-age=3600"},
    )


@router.post(
    "/{label_id}/void",
    response_model=LabelOut,
    summary="Void a label",
    responses=problem_responses(
        PIPELINE_PROBLEMS, LabelNotFound, LabelNotVoidable, CarrierRejectedRequest, _ACCOUNT_PROBLEMS, CARRIER_CALL_PROBLEMS
    ),
)
async def void_label(
    label_id: uuid.UUID,
    principal: MerchantOrAdmin,
    _: CallsOut,
    db: Db,
    settings: AppSettings,
    cipher: Cipher,
    http: Http,
) -> LabelOut:
    """Cancel the label at the carrier; 200 with the label `voided`, its shipment `cancelled`, and `label.voided` written.

    Voiding a voided label answers it unchanged. 409 `label-not-voidable`
    where the carrier has no cancel (DHL Express) or the label is not booked;
    422 `carrier-rejected` when the carrier refuses (e.g. already scanned).
    """
    return await booking.void_label(
        db=db, tenant_id=principal.tenant, label_id=label_id, settings=settings, cipher=cipher, http=http
    )
