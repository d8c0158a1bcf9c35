"""/v1/tenants/{tenant_id}/api-keys, /v1/admin-keys and /v1/me."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentPrincipal, KeyManager, ManagedTenantSession, PlatformAdmin, PlatformAdminSession, RequestSession
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.auth import service
from app.audit import service as audit
from app.auth.errors import ApiKeyNotFound
from app.auth.schemas import AdminKeyCreate, AdminKeyCreated, AdminKeyOut, ApiKeyCreate, ApiKeyCreated, ApiKeyOut, MeOut
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import InvalidCursor, problem_responses
from app.tenants import service as tenants
from app.tenants.errors import TenantDeleted, TenantNotFound

router = PipelineRouter(tags=["api keys"])

async def key_managed_session(tenant_id: uuid.UUID, session: ManagedTenantSession) -> AsyncSession:
    """The request's transaction scoped to `tenant_id`, if the caller may manage its keys (404 if no such tenant)."""
    if await tenants.get(session=session, tenant_id=tenant_id) is None:
        raise TenantNotFound("No such tenant.")
    return session


ManagedSession = Annotated[AsyncSession, Depends(key_managed_session)]


@router.post(
    "/v1/tenants/{tenant_id}/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Issue an API key",
    responses=problem_responses(PIPELINE_PROBLEMS, TenantNotFound, TenantDeleted),
)
async def create_api_key(
    tenant_id: uuid.UUID, body: ApiKeyCreate, principal: KeyManager, session: ManagedSession, request: Request
) -> ApiKeyCreated:
    """Issue a key `{name, role, expires_at?}` for the tenant; the response's `key` is shown only now.

    Platform admins, or the tenant's own tenant admins. 404 for an unknown tenant, 409 `tenant-deleted`
    for a deleted one (its rows are being erased). Audited as `api_key.created`.
    """
    tenant = await tenants.get(session=session, tenant_id=tenant_id)
    if tenant is not None and tenant.status == "deleted":
        raise TenantDeleted("This tenant is deleted; no API key can be issued for it.")
    row, secret = await service.issue(
        session=session, tenant_id=tenant_id, name=body.name, role=body.role, expires_at=body.expires_at,
        actor=principal, request=request,
    )
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(row).model_dump(), "key": secret})


@router.get(
    "/v1/tenants/{tenant_id}/api-keys",
    response_model=Page[ApiKeyOut],
    summary="List API keys",
    responses=problem_responses(PIPELINE_PROBLEMS, TenantNotFound, InvalidCursor),
)
async def list_api_keys(
    tenant_id: uuid.UUID, session: ManagedSession, params: Annotated[PageParams, Depends(page_params)]
) -> dict:
    """The tenant's keys (prefix, name, role, created, last used, expiry, revocation; never the secret)."""
    rows = await service.list_page(session=session, tenant_id=tenant_id, params=params)
    return make_page(rows, params, convert=ApiKeyOut.model_validate)


@router.delete(
    "/v1/tenants/{tenant_id}/api-keys/{key_id}",
    status_code=204,
    summary="Revoke an API key",
    responses=problem_responses(PIPELINE_PROBLEMS, TenantNotFound, ApiKeyNotFound),
)
async def revoke_api_key(
    tenant_id: uuid.UUID, key_id: uuid.UUID, principal: KeyManager, session: ManagedSession, request: Request
) -> Response:
    """Revoke a key: it gets 401 from the next request on. 404 if the tenant has no such key. Audited as `api_key.revoked`."""
    if await service.revoke(session=session, tenant_id=tenant_id, key_id=key_id, actor=principal, request=request) is None:
        raise ApiKeyNotFound("No such API key.")
    return Response(status_code=204)


@router.post(
    "/v1/admin-keys",
    status_code=201,
    response_model=AdminKeyCreated,
    summary="Issue a platform-admin key",
    responses=problem_responses(PIPELINE_PROBLEMS),
)
async def create_admin_key(
    body: AdminKeyCreate, principal: PlatformAdmin, session: PlatformAdminSession, request: Request
) -> AdminKeyCreated:
    """Issue a platform-admin key `{name, expires_at}` (platform admin); the response's `key` is shown only now.

    The first key comes from the CLI (`courier-hub create-admin-key`); keys
    issued here must expire. Audited as `admin_key.created`.
    """
    row, secret = await service.issue_admin_key_via_api(session=session, name=body.name, expires_at=body.expires_at)
    await audit.record(
        session, actor=principal, action="admin_key.created", target_type="admin_key", target_id=row.id,
        changed=["name", "expires_at"], request=request, tenant_id=None,
    )
    return AdminKeyCreated.model_validate({**AdminKeyOut.model_validate(row).model_dump(), "key": secret})


@router.get(
    "/v1/admin-keys",
    response_model=Page[AdminKeyOut],
    summary="List platform-admin keys",
    responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor),
)
async def list_admin_keys(
    _: PlatformAdmin, session: PlatformAdminSession, params: Annotated[PageParams, Depends(page_params)]
) -> dict:
    """Every platform-admin key, newest first (prefix, name, created, last used, expiry, revocation; never the secret)."""
    rows = await service.list_admin_keys(session=session, params=params)
    return make_page(rows, params, convert=AdminKeyOut.model_validate)


@router.delete(
    "/v1/admin-keys/{key_id}",
    status_code=204,
    summary="Revoke a platform-admin key",
    responses=problem_responses(PIPELINE_PROBLEMS, ApiKeyNotFound),
)
async def revoke_admin_key(
    key_id: uuid.UUID, principal: PlatformAdmin, session: PlatformAdminSession, request: Request
) -> Response:
    """Revoke a platform-admin key: it gets 401 from the next request on. 404 if there is no such key.

    Audited as `admin_key.revoked`.
    """
    if await service.revoke_admin_key(session=session, key_id=key_id) is None:
        raise ApiKeyNotFound("No such platform-admin key.")
    await audit.record(
        session, actor=principal, action="admin_key.revoked", target_type="admin_key", target_id=key_id,
        changed=["revoked_at"], request=request, tenant_id=None,
    )
    return Response(status_code=204)


@router.get("/v1/me", response_model=MeOut, summary="Who am I", responses=problem_responses(PIPELINE_PROBLEMS))
async def me(principal: CurrentPrincipal, session: RequestSession) -> MeOut:
    """The calling key: its id, name, role and tenant."""
    out = MeOut(key_id=principal.key_id, key_name=principal.key_name, role=principal.role, tenant_id=principal.tenant_id)
    if principal.tenant_id is not None:
        tenant = await tenants.get(session=session, tenant_id=principal.tenant_id)
        if tenant is not None:
            out.tenant_name, out.tenant_slug = tenant.name, tenant.slug
    return out
