"""/v1/tenants: platform admins create, list and change tenants (name, status, default shipper)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.api.deps import ManagedTenantSession, PlatformAdmin, PlatformAdminSession
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import InvalidCursor, problem_responses
from app.tenants import service
from app.tenants.errors import SlugTaken, TenantDeleted, TenantNotFound
from app.tenants.schemas import TenantCreate, TenantOut, TenantUpdate

router = PipelineRouter(prefix="/v1/tenants", tags=["tenants"])


@router.post(
    "", status_code=201, response_model=TenantOut, summary="Create a tenant",
    responses=problem_responses(PIPELINE_PROBLEMS, SlugTaken),
)
async def create_tenant(
    body: TenantCreate, principal: PlatformAdmin, session: PlatformAdminSession, request: Request
) -> TenantOut:
    """Create a tenant `{name, slug}` (platform admin; audited as `tenant.created`). 409 if the slug exists."""
    tenant = await service.create(session=session, name=body.name, slug=body.slug, actor=principal, request=request)
    return TenantOut.model_validate(tenant)


@router.get(
    "", response_model=Page[TenantOut], summary="List tenants", responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor)
)
async def list_tenants(session: PlatformAdminSession, params: Annotated[PageParams, Depends(page_params)]) -> dict:
    """Every tenant, newest first, cursor-paginated (platform admin)."""
    rows = await service.list_page(session=session, params=params)
    return make_page(rows, params, convert=TenantOut.model_validate)


@router.get(
    "/{tenant_id}", response_model=TenantOut, summary="Get a tenant",
    responses=problem_responses(PIPELINE_PROBLEMS, TenantNotFound),
)
async def get_tenant(tenant_id: uuid.UUID, session: PlatformAdminSession) -> TenantOut:
    """One tenant by id (platform admin); 404 if none."""
    tenant = await service.get(session=session, tenant_id=tenant_id)
    if tenant is None:
        raise TenantNotFound("No such tenant.")
    return TenantOut.model_validate(tenant)


@router.patch(
    "/{tenant_id}", response_model=TenantOut, summary="Change a tenant (name, status, default shipper)",
    responses=problem_responses(PIPELINE_PROBLEMS, TenantNotFound, TenantDeleted),
)
async def update_tenant(
    tenant_id: uuid.UUID, body: TenantUpdate, principal: PlatformAdmin, session: ManagedTenantSession, request: Request
) -> TenantOut:
    """Change `name`, `status` and/or `shipper_address` (platform admin); fields left out stay.

    `status`: "suspended" refuses every key of the tenant with 403
    `tenant-suspended` and pauses its webhook deliveries and tracking refresh
    (data is kept; "active" resumes them); "deleted" is final: the worker
    erases the tenant's rows in batches and keeps the tenant row as a
    tombstone. Each change writes an integration event (`tenant.updated` or
    `tenant.status_changed`) and an audit entry. 404 `not-found`, 409
    `tenant-deleted` for a deleted tenant, 422 for a malformed shipper address.
    """
    changes = body.model_dump(exclude_unset=True, mode="json")
    tenant = await service.update(session=session, tenant_id=tenant_id, changes=changes, actor=principal, request=request)
    if tenant is None:
        raise TenantNotFound("No such tenant.")
    return TenantOut.model_validate(tenant)
