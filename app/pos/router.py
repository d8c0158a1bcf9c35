"""/v1/pos: idempotent order ingestion per source, and reading orders back."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from app.api.deps import MERCHANT_OR_ADMIN, TenantMember, TenantSession, idempotent
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import InvalidCursor, MalformedJson, PayloadTooDeep, problem_responses
from app.idempotency.errors import IDEMPOTENCY_PROBLEMS
from app.idempotency.service import IdempotentRequest
from app.pos import service
from app.pos.canonical import PayloadError
from app.pos.errors import InvalidOrderPayload, OrderNotFound, UnknownPosSource
from app.pos.schemas import IngestResult, OrderDetail, OrderOut
from app.pos.sources import UnknownSource, get_mapper

router = PipelineRouter(prefix="/v1/pos", tags=["pos"])


@router.post(
    "/{source}/ingest",
    response_model=IngestResult,
    status_code=201,
    summary="Ingest one order from a POS or shop system",
    responses={
        200: {"model": IngestResult, "description": "The order existed already (same source and external id)."},
        **problem_responses(
            PIPELINE_PROBLEMS, IDEMPOTENCY_PROBLEMS, UnknownPosSource, MalformedJson, PayloadTooDeep, InvalidOrderPayload
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The source platform's order payload, as that platform sends it (see README).",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def ingest_order(
    source: str,
    request: Request,
    idempotent_request: Annotated[IdempotentRequest, idempotent(MERCHANT_OR_ADMIN, required=True)],
) -> Response:
    """Store one order from `source` (`generic`, `shopify`, `woocommerce`, ...) exactly once.

    Requires `Idempotency-Key` (400 without). Same key + same body: the first
    response again with `Idempotent-Replayed: true`; same key + other body:
    422; same key still running: 409 + `Retry-After`. Independently, an order
    already stored for (source, external id) answers 200 `result: existing`.
    Errors: 404 unknown source (lists known ones), 400 malformed JSON, 422 a
    payload the source's mapper cannot read.
    """
    try:
        mapper = get_mapper(source)
    except UnknownSource as exc:
        raise UnknownPosSource(f"Unknown POS source '{source}'.", known_sources=exc.known) from exc
    payload = idempotent_request.json()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        order = mapper(payload, headers)
    except PayloadError as exc:
        raise InvalidOrderPayload(str(exc), source=source) from exc
    row, created = await service.ingest(
        session=idempotent_request.session,
        tenant_id=idempotent_request.tenant_id,
        source=source,
        order=order,
        raw_payload=payload,
        raw_json=idempotent_request.json_text(),
    )
    result = IngestResult(result="created" if created else "existing", order=OrderOut.model_validate(row))
    return await idempotent_request.respond(201 if created else 200, result)


@router.get(
    "/orders", response_model=Page[OrderOut], summary="List orders", responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor)
)
async def list_orders(
    principal: TenantMember,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    source: Annotated[str | None, Query(max_length=50, description="Only orders from this source.")] = None,
) -> dict:
    """The tenant's orders, newest first, cursor-paginated; `?source=` filters by source."""
    rows = await service.list_page(session=session, tenant_id=principal.tenant_id, params=params, source=source)
    return make_page(rows, params, convert=OrderOut.model_validate)


@router.get(
    "/orders/{order_id}",
    response_model=OrderDetail,
    summary="Get an order",
    responses=problem_responses(PIPELINE_PROBLEMS, OrderNotFound),
)
async def get_order(order_id: uuid.UUID, principal: TenantMember, session: TenantSession) -> OrderDetail:
    """One order with its raw payload; 404 if the tenant has none with this id."""
    row = await service.get(session=session, tenant_id=principal.tenant_id, order_id=order_id)
    if row is None:
        raise OrderNotFound("No such order.")
    return OrderDetail.model_validate(row)
