"""/v1/events: the tenant's integration event log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from pydantic import AwareDatetime

from app.api.deps import TenantMember, TenantSession
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import InvalidCursor, problem_responses
from app.events import service
from app.events.schemas import EventOut

router = PipelineRouter(prefix="/v1/events", tags=["events"])


@router.get(
    "",
    response_model=Page[EventOut],
    summary="List integration events",
    responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor),
)
async def list_events(
    principal: TenantMember,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    type: Annotated[list[str] | None, Query(description="Only these event types (repeatable).")] = None,
    occurred_after: Annotated[AwareDatetime | None, Query(description="Inclusive lower bound (ISO 8601 with offset).")] = None,
    occurred_before: Annotated[AwareDatetime | None, Query(description="Exclusive upper bound (ISO 8601 with offset).")] = None,
) -> dict:
    """The caller's tenant's events, newest first, cursor-paginated; filter by type and time range."""
    rows = await service.list_page(
        session=session,
        tenant_id=principal.tenant_id,
        params=params,
        types=type,
        occurred_after=occurred_after,
        occurred_before=occurred_before,
    )
    return make_page(rows, params, convert=EventOut.model_validate)
