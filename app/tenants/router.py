"""/v1/tenants: platform admins create and list tenants."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from app.api.deps import PlatformAdminSession
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import InvalidCursor, problem_responses
from app.tenants import service
from app.tenants.errors import SlugTaken, TenantNotFound
from app.tenants.schemas import TenantCreate, TenantOut

router = PipelineRouter(prefix="/v1/tenants", tags=["tenants"])




@router.post(
    "", status_code=201, response_model=TenantOut, summary="Create a tenant",
    responses=problem_responses(PIPELINE_PROBLEMS, SlugTaken),
)
async def create_tenant(body: TenantCreate, session: PlatformAdminSession) -> TenantOut:
    """Create a tenant `{name, slug}` (platform admin). 409 if the slug exists."""
    tenant = await service.create(session=session, name=body.name, slug=body.slug)
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
