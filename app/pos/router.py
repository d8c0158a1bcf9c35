"""/v1/pos: idempotent order ingestion per source, and reading orders back."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from app.api.deps import MerchantOrAdmin, TenantMember, TenantSession, get_db
from app.core.config import Settings, get_settings
from app.core.db.session import Database
from app.idempotency import service as idempotency
from app.core.pagination import Page, PageParams, make_page, page_params
from app.pos import service
from app.pos.canonical import PayloadError
from app.pos.schemas import IngestResult, OrderDetail, OrderOut
from app.pos.sources import UnknownSource, get_mapper
from app.core.problems import ProblemError

router = APIRouter(prefix="/v1/pos", tags=["pos"])


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProblemError(400, "malformed-json", f"The request body is not valid JSON: {exc}.") from exc


@router.post(
    "/{source}/ingest",
    response_model=IngestResult,
    status_code=201,
    summary="Ingest one order from a POS or shop system",
    responses={200: {"model": IngestResult, "description": "The order existed already (same source and external id)."}},
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
    principal: MerchantOrAdmin,
    db: Annotated[Database, Depends(get_db)],
    settings: Annotated[Settings, Depends(get_settings)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", description="Required; 1-255 chars, e.g. a UUID.")] = None,
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
        raise ProblemError(404, "unknown-source", f"Unknown POS source '{source}'.", known_sources=exc.known) from exc
    key = idempotency.validate_key(idempotency_key)
    raw = await request.body()
    payload = _parse_json(raw)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        order = mapper(payload, headers)
    except PayloadError as exc:
        raise ProblemError(422, "invalid-order-payload", str(exc), source=source) from exc

    assert principal.tenant_id is not None
    tenant_id = principal.tenant_id

    async def handler(session) -> tuple[int, Any]:  # noqa: ANN001
        row, created = await service.ingest(
            session=session, tenant_id=tenant_id, source=source, order=order, raw_payload=payload
        )
        result = IngestResult(result="created" if created else "existing", order=OrderOut.model_validate(row))
        return (201 if created else 200), result

    return await idempotency.execute_request(
        request=request, db=db, settings=settings, tenant_id=tenant_id, key=key, handler=handler, required=True
    )


@router.get("/orders", response_model=Page[OrderOut], summary="List orders")
async def list_orders(
    _: TenantMember,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    source: Annotated[str | None, Query(max_length=50, description="Only orders from this source.")] = None,
) -> dict:
    """The tenant's orders, newest first, cursor-paginated; `?source=` filters by source."""
    rows = await service.list_page(session=session, params=params, source=source)
    return make_page(rows, params, convert=OrderOut.model_validate)


@router.get("/orders/{order_id}", response_model=OrderDetail, summary="Get an order")
async def get_order(order_id: uuid.UUID, _: TenantMember, session: TenantSession) -> OrderDetail:
    """One order with its raw payload; 404 if the tenant has none with this id."""
    row = await service.get(session=session, order_id=order_id)
    if row is None:
        raise ProblemError(404, "not-found", "No such order.")
    return OrderDetail.model_validate(row)
