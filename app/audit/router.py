"""/v1/audit-log: who did what, for tenant admins (their tenant) and platform admins (any tenant)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query

from app.api.deps import KeyManager, RequestSession
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.audit import service
from app.audit.schemas import AuditEntryOut
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import InvalidCursor, problem_responses
from app.core.timestamps import AwareUtcDatetime

router = PipelineRouter(prefix="/v1/audit-log", tags=["audit log"])


@router.get(
    "", response_model=Page[AuditEntryOut], summary="List audit log entries",
    responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor),
)
async def list_audit_log(
    principal: KeyManager,
    session: RequestSession,
    params: Annotated[PageParams, Depends(page_params)],
    tenant_id: Annotated[uuid.UUID | None, Query(description="Platform admins: one tenant's entries.")] = None,
    action: Annotated[str | None, Query(max_length=100, description='e.g. "api_key.created".')] = None,
    actor_key_id: Annotated[uuid.UUID | None, Query()] = None,
    target_type: Annotated[str | None, Query(max_length=50, description='e.g. "api_key", "tenant".')] = None,
    since: Annotated[AwareUtcDatetime | None, Query(description="Entries at or after this time (ISO 8601 with offset).")] = None,
) -> dict:
    """Audit entries, newest first, cursor-paginated, filtered by `action`, `actor_key_id`, `target_type`, `since`.

    A tenant admin sees its tenant's entries (`tenant_id` other than its own:
    no entries). A platform admin sees the tenant given as `tenant_id`, or,
    without it, every tenant's entries and the platform-wide ones
    (platform-admin keys, plans).
    """
    rows = await service.list_visible(
        session=session, principal=principal, params=params, tenant_id=tenant_id, action=action,
        actor_key_id=actor_key_id, target_type=target_type, since=since,
    )
    return make_page(rows, params, convert=AuditEntryOut.of)
