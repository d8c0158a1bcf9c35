"""/console/orders: the tenant's orders (filter by source, search by external id) and one order with its shipments and labels.

The pattern of a console section: a list route and a detail route taking
`Viewer` (read: any tenant key), each calling the domain's service with the
request's tenant-scoped transaction, and rendering one template.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api.deps import RequestSession
from app.console.security import Viewer
from app.console.templating import render
from app.core.pagination import PageParams, decode_cursor, encode_cursor
from app.core.problems import NotFound
from app.labels import service as labels
from app.pos import service as orders
from app.pos.sources import known_sources
from app.shipments import service as shipments

router = APIRouter()

PAGE_SIZE = 25


def page_params(cursor: str | None) -> PageParams:
    """The console's page of `PAGE_SIZE` rows after `cursor` (400 `invalid-cursor` for a malformed one)."""
    return PageParams(after_id=decode_cursor(cursor) if cursor else None, limit=PAGE_SIZE)


def next_cursor(rows: list, params: PageParams) -> str | None:
    """The cursor of the next page, when `rows` (limit + 1 fetched) has one."""
    return encode_cursor(rows[params.limit - 1].id) if len(rows) > params.limit else None


@router.get("/orders")
async def list_orders(
    request: Request,
    user: Viewer,
    session: RequestSession,
    q: Annotated[str | None, Query(max_length=200, description="External id, or its beginning.")] = None,
    source: Annotated[str | None, Query(max_length=50)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Newest first, 25 a page; `q` searches the external id (exact or prefix), `source` filters."""
    params = page_params(cursor)
    rows = await orders.list_page(
        session=session, tenant_id=user.principal.tenant, params=params, source=source or None,
        external_id_prefix=(q or "").strip() or None,
    )
    return render(
        request, "orders.html", user, active="orders", title="Orders", rows=rows[: params.limit],
        next_cursor=next_cursor(rows, params), q=q or "", source=source or "", sources=known_sources(),
    )


@router.get("/orders/{order_id}")
async def order_page(order_id: uuid.UUID, request: Request, user: Viewer, session: RequestSession) -> Response:
    """One order: its lines, shipping address, shipments and labels; 404 page if the tenant has no such order."""
    tenant_id = user.principal.tenant
    order = await orders.get(session=session, tenant_id=tenant_id, order_id=order_id)
    if order is None:
        raise NotFound("No such order.")
    many = PageParams(after_id=None, limit=100)
    order_labels = (await labels.list_page(session=session, tenant_id=tenant_id, params=many, order_id=order.id))[:100]
    return render(
        request, "order.html", user, active="orders", title=f"Order {order.external_id}", order=order,
        shipments=(await shipments.list_page(session=session, tenant_id=tenant_id, params=many, order_id=order.id))[:100],
        labels=order_labels,
        documents=await labels.documents_of(session=session, tenant_id=tenant_id, label_ids=[l.id for l in order_labels]),
    )
