"""/v1/privacy: a customer's erasure (GDPR art. 17) and the tenant's retention settings."""

from __future__ import annotations

from fastapi import Request

from app.api.deps import TenantAdmin, TenantSession
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.audit import service as audit
from app.core.db.base import new_id
from app.core.problems import problem_responses
from app.events import service as events
from app.privacy import erasure, retention
from app.privacy.schemas import ErasureRequest, ErasureResult, RetentionOut, RetentionUpdate

router = PipelineRouter(prefix="/v1/privacy", tags=["privacy"])

PRIVACY_ERASED = "privacy.erased"
"""Integration event of an erasure; data: `erasure_id`, `matched_by` ("email" | "external_customer_id"), `tables`, `total`."""


@router.post("/erase", response_model=ErasureResult, summary="Erase a customer's personal data",
             responses=problem_responses(PIPELINE_PROBLEMS))
async def erase_customer(
    body: ErasureRequest, principal: TenantAdmin, session: TenantSession, request: Request
) -> ErasureResult:
    """Remove a customer's personal data, by `email` or `external_customer_id`, from the tenant (tenant admin).

    Orders lose the customer, the shipping address and the raw payload;
    their shipments' tracking events the signature and raw carrier event;
    labels the recipient's name and address and their documents; and every
    other mention of the address (carrier pushes, stored responses, event
    payloads...) is replaced by "[erased]". Answers with the rows changed per
    table; writes `privacy.erased` and the audit entry `privacy.erased`
    (counts only, never the personal data) in the same transaction. Running
    it again changes nothing. 422 `validation-error` unless exactly one of
    the two is given.
    """
    tenant_id = principal.tenant
    subject = erasure.Subject(email=body.email, external_customer_id=body.external_customer_id)
    tables = await erasure.erase(session=session, tenant_id=tenant_id, subject=subject)
    erasure_id, total = new_id(), sum(tables.values())
    matched_by = "email" if body.email is not None else "external_customer_id"
    await events.record(
        session=session, tenant_id=tenant_id, type=PRIVACY_ERASED, subject_type="privacy_erasure", subject_id=erasure_id,
        data={"erasure_id": str(erasure_id), "matched_by": matched_by, "tables": tables, "total": total},
    )
    await audit.record(
        session, actor=principal, action=PRIVACY_ERASED, target_type="privacy_erasure", target_id=erasure_id,
        changed=list(tables), request=request,
    )
    return ErasureResult(erasure_id=erasure_id, tables=tables, total=total)


@router.get("/retention", response_model=RetentionOut, summary="Retention settings",
            responses=problem_responses(PIPELINE_PROBLEMS))
async def get_retention(principal: TenantAdmin, session: TenantSession) -> RetentionOut:
    """How long the tenant's data is kept, in days (tenant admin); the defaults until changed."""
    return RetentionOut(**await retention.get_settings(session=session, tenant_id=principal.tenant))


@router.patch("/retention", response_model=RetentionOut, summary="Change retention settings",
              responses=problem_responses(PIPELINE_PROBLEMS))
async def update_retention(
    body: RetentionUpdate, principal: TenantAdmin, session: TenantSession, request: Request
) -> RetentionOut:
    """Change retention periods (days, 1-36500; tenant admin); the worker applies them on its next pass.

    Audited as `retention.updated`.
    """
    changes = body.model_dump(exclude_unset=True)
    settings = await retention.update_settings(session=session, tenant_id=principal.tenant, changes=changes)
    if changes:
        await audit.record(
            session, actor=principal, action="retention.updated", target_type="retention_settings",
            target_id=principal.tenant, changed=changes, request=request,
        )
    return RetentionOut(**settings)
