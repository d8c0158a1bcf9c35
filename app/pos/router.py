"""/v1/pos: idempotent order ingestion per source, and reading orders back."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from app.api.deps import MERCHANT_OR_ADMIN, TenantMember, TenantSession, idempotent
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import InvalidCursor, MalformedJson, PayloadTooDeep, problem_responses
from app.core.timestamps import UtcDatetime
from app.idempotency.errors import IDEMPOTENCY_PROBLEMS
from app.idempotency.service import IdempotentRequest
from app.pos import connections, service
from app.pos.canonical import PayloadError
from app.pos.errors import InvalidOrderPayload, OrderNotFound, UnknownPosSource
from app.pos.schemas import IngestResult, OrderDetail, OrderOut, RevisionOut
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
    already stored for (source, external id) answers 200: `result: updated`
    when the platform says this state is newer (Shopify `updated_at`,
    WooCommerce `date_modified_gmt`, Square `version`), else `existing`
    (nothing changed). API-key ingests go through the source's implicit
    default connection.
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
    connection_id = await connections.default_connection_id(
        session=idempotent_request.session, tenant_id=idempotent_request.tenant_id, source=source
    )
    row, outcome = await service.ingest(
        session=idempotent_request.session,
        tenant_id=idempotent_request.tenant_id,
        connection_id=connection_id,
        source=source,
        order=order,
        raw_payload=payload,
        raw_json=idempotent_request.json_text(),
    )
    result = IngestResult(result=outcome, order=OrderOut.model_validate(row))
    return await idempotent_request.respond(201 if outcome == "created" else 200, result)


@router.get(
    "/orders", response_model=Page[OrderOut], summary="List orders", responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor)
)
async def list_orders(
    principal: TenantMember,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    source: Annotated[str | None, Query(max_length=50, description="Only orders from this source.")] = None,
    external_id: Annotated[str | None, Query(min_length=1, max_length=200, description="The platform's order id.")] = None,
    order_number: Annotated[str | None, Query(min_length=1, max_length=100, description="E.g. `#1001`.")] = None,
    connection_id: Annotated[uuid.UUID | None, Query(description="Only orders of this connection.")] = None,
    placed_after: Annotated[UtcDatetime | None, Query(description="Placed at or after (ISO 8601 with offset).")] = None,
    placed_before: Annotated[UtcDatetime | None, Query(description="Placed before (ISO 8601 with offset).")] = None,
) -> dict:
    """The tenant's orders, newest first, cursor-paginated, filtered by every parameter given (AND).

    An unknown query parameter is 400 `unknown-parameter`; a time without an offset is read as UTC.
    """
    rows = await service.list_page(
        session=session,
        tenant_id=principal.tenant_id,
        params=params,
        source=source,
        external_id=external_id,
        order_number=order_number,
        connection_id=connection_id,
        placed_after=_aware(placed_after),
        placed_before=_aware(placed_before),
    )
    return make_page(rows, params, convert=OrderOut.model_validate)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


@router.get(
    "/orders/{order_id}",
    response_model=OrderDetail,
    summary="Get an order",
    responses=problem_responses(PIPELINE_PROBLEMS, OrderNotFound),
)
async def get_order(order_id: uuid.UUID, principal: TenantMember, session: TenantSession) -> OrderDetail:
    """One order with its raw payload (of its current revision), `revision_count` and `current_revision`; 404 if unknown."""
    row = await service.get(session=session, tenant_id=principal.tenant_id, order_id=order_id)
    if row is None:
        raise OrderNotFound("No such order.")
    revision = await service.current_revision(session=session, tenant_id=principal.tenant_id, order_id=order_id)
    return OrderDetail(
        **OrderOut.model_validate(row).model_dump(),
        raw_payload=revision.raw_payload if revision is not None else None,
        current_revision=RevisionOut.model_validate(revision) if revision is not None else None,
    )
