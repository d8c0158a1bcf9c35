"""/v1/integrations: a tenant's carrier accounts (tenant_admin writes, merchants read)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from app.carriers.deps import Http
from app.api.deps import (
    TENANT_ADMIN,
    AppSettings,
    Cipher,
    MerchantOrAdmin,
    TenantAdmin,
    TenantSession,
    idempotent,
)
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.billing.errors import QuotaExceeded
from app.core.crypto import CredentialsCipher
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import (
    CredentialsEncryptionUnconfigured,
    InvalidCursor,
    problem_responses,
)
from app.carriers.registry import UnknownCarrier, get_adapter_class
from app.idempotency.errors import (
    IdempotencyKeyInFlight,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from app.idempotency.service import IdempotentRequest
from app.integrations import checks, credentials, service
from app.integrations.errors import (
    CarrierCapabilityNotSupported,
    CredentialsUndecryptable,
    IntegrationExists,
    IntegrationNotFound,
    InvalidCredentials,
    StoredCredentialsInvalid,
    UnsupportedCarrier,
)
from app.integrations.models import Integration
from app.integrations.schemas import (
    IntegrationCheck,
    IntegrationCreate,
    IntegrationOut,
    IntegrationUpdate,
    IntegrationWithSecret,
    WebhookAuth,
)

_COMMON = (PIPELINE_PROBLEMS, CredentialsEncryptionUnconfigured)
_WRITE = (UnsupportedCarrier, InvalidCredentials, IntegrationExists, QuotaExceeded)

router = PipelineRouter(prefix="/v1/integrations", tags=["integrations"])

def _webhook_auth(carrier: str) -> WebhookAuth | None:
    try:
        adapter = get_adapter_class(carrier)
    except UnknownCarrier:
        return None
    return WebhookAuth(scheme=adapter.webhook_auth_scheme(), header=adapter.webhook_auth_header)


def _base_url(request: Request) -> str:
    """The public origin from PUBLIC_BASE_URL (`Settings.public_base`), never from the request's Host header."""
    return request.app.state.settings.public_base


def _out(row: Integration, cipher: CredentialsCipher, base_url: str) -> IntegrationOut:
    return IntegrationOut(**_fields(row, cipher, base_url))


def _with_secret(
    row: Integration, cipher: CredentialsCipher, base_url: str, secret: str, previous_expires_at: datetime | None = None
) -> IntegrationWithSecret:
    return IntegrationWithSecret(
        **_fields(row, cipher, base_url), webhook_secret=secret, previous_webhook_secret_expires_at=previous_expires_at
    )


def _fields(row: Integration, cipher: CredentialsCipher, base_url: str) -> dict[str, Any]:
    return dict(
        id=row.id,
        carrier=row.carrier,
        name=row.name,
        environment=row.environment,
        is_active=row.is_active,
        credentials=credentials.masked_credentials(integration=row, cipher=cipher),
        last_check_status=row.last_check_status,
        last_checked_at=row.last_checked_at,
        last_error=row.last_error,
        inbound_webhook_url=base_url + service.inbound_path(row.carrier, row.id),
        webhook_auth=_webhook_auth(row.carrier),
        webhook_secret_set=bool(row.webhook_secret_ciphertext),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.post(
    "",
    response_model=IntegrationWithSecret,
    status_code=201,
    summary="Connect a carrier account",
    responses=problem_responses(
        _COMMON, _WRITE, IdempotencyKeyInvalid, IdempotencyKeyReused, IdempotencyKeyInFlight
    ),
)
async def create_integration(
    body: IntegrationCreate,
    request: Request,
    idempotent_request: Annotated[IdempotentRequest, idempotent(TENANT_ADMIN, required=False, sealed=True)],
    cipher: Cipher,
    principal: TenantAdmin,
) -> Response:
    """Store an integration; `credentials` are validated against the carrier's schema and encrypted.

    The response carries `webhook_secret`, shown only here (and in an
    Idempotency-Key replay of this response, stored encrypted): configure it at
    the carrier for its pushes to `inbound_webhook_url`, as `webhook_auth` says.
    Errors: 422 `unsupported-carrier` (lists `known_carriers`), 422
    `invalid-credentials` (field errors, never the values), 409
    `integration-exists` (an active one with this carrier and name). With an
    `Idempotency-Key`, a retry gets the first response again.
    """
    row, secret = await service.create(
        session=idempotent_request.session,
        tenant_id=idempotent_request.tenant_id,
        cipher=cipher,
        carrier=body.carrier,
        name=body.name,
        environment=body.environment,
        credentials=body.credentials,
        is_active=body.is_active,
        actor=principal,
        request=request,
        given=body.model_dump(exclude_unset=True),
    )
    return await idempotent_request.respond(201, _with_secret(row, cipher, _base_url(request), secret))


@router.get(
    "",
    response_model=Page[IntegrationOut],
    summary="List integrations",
    responses=problem_responses(_COMMON, InvalidCursor),
)
async def list_integrations(
    request: Request,
    principal: MerchantOrAdmin,
    session: TenantSession,
    cipher: Cipher,
    params: Annotated[PageParams, Depends(page_params)],
    carrier: Annotated[str | None, Query(max_length=50, description="Only this carrier's integrations.")] = None,
    is_active: Annotated[bool | None, Query(description="Only active (true) or inactive (false) ones.")] = None,
) -> dict:
    """The tenant's integrations, newest first, cursor-paginated; credentials masked."""
    rows = await service.list_page(
        session=session, tenant_id=principal.tenant_id, params=params, carrier=carrier, is_active=is_active
    )
    base_url = _base_url(request)
    return make_page(rows, params, convert=lambda row: _out(row, cipher, base_url))


@router.get(
    "/{integration_id}",
    response_model=IntegrationOut,
    summary="Get an integration",
    responses=problem_responses(_COMMON, IntegrationNotFound),
)
async def get_integration(
    integration_id: uuid.UUID, request: Request, principal: MerchantOrAdmin, session: TenantSession, cipher: Cipher
) -> IntegrationOut:
    """One integration (credentials masked); 404 if the tenant has none with this id."""
    row = await service.get_or_404(session=session, tenant_id=principal.tenant_id, integration_id=integration_id)
    return _out(row, cipher, _base_url(request))


@router.patch(
    "/{integration_id}",
    response_model=IntegrationOut,
    summary="Update an integration",
    responses=problem_responses(_COMMON, IntegrationNotFound, _WRITE),
)
async def update_integration(
    integration_id: uuid.UUID,
    body: IntegrationUpdate,
    request: Request,
    principal: TenantAdmin,
    session: TenantSession,
    cipher: Cipher,
) -> IntegrationOut:
    """Change name, environment, is_active and/or replace the credentials (validated, re-encrypted).

    New credentials or a new environment clear the last test result. Errors
    as for POST; 404 unknown id.
    """
    row = await service.get_or_404(
        session=session, tenant_id=principal.tenant_id, integration_id=integration_id, for_update=True
    )
    changes = body.model_dump(exclude_unset=True)
    row = await service.update(session=session, integration=row, cipher=cipher, changes=changes, actor=principal, request=request)
    return _out(row, cipher, _base_url(request))


@router.post(
    "/{integration_id}/rotate-webhook-secret",
    response_model=IntegrationWithSecret,
    summary="Issue a new webhook secret for the carrier's pushes",
    responses=problem_responses(_COMMON, IntegrationNotFound),
)
async def rotate_webhook_secret(
    integration_id: uuid.UUID,
    request: Request,
    principal: TenantAdmin,
    session: TenantSession,
    settings: AppSettings,
    cipher: Cipher,
) -> IntegrationWithSecret:
    """A new `webhook_secret` (shown only in this response) for pushes to `inbound_webhook_url`.

    The previous secret is still accepted until `previous_webhook_secret_expires_at`
    (WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS), time to update the carrier's
    subscription. Records `integration.updated` with `changed: ["webhook_secret"]`.
    Also issues the first secret of an integration that has none. 404 unknown id.
    """
    row = await service.get_or_404(
        session=session, tenant_id=principal.tenant_id, integration_id=integration_id, for_update=True
    )
    had_secret = bool(row.webhook_secret_ciphertext)
    overlap = settings.webhook_secret_rotation_overlap_seconds
    secret = await service.rotate_webhook_secret(
        session=session, integration=row, cipher=cipher, overlap_seconds=overlap, actor=principal, request=request
    )
    expires = row.updated_at + timedelta(seconds=overlap) if had_secret and overlap > 0 else None
    return _with_secret(row, cipher, _base_url(request), secret, expires)


@router.delete(
    "/{integration_id}",
    status_code=204,
    summary="Delete an integration",
    responses=problem_responses(PIPELINE_PROBLEMS, IntegrationNotFound),
)
async def delete_integration(
    integration_id: uuid.UUID, principal: TenantAdmin, session: TenantSession, request: Request
) -> Response:
    """Delete the integration and its stored credentials (to pause it instead, PATCH `is_active: false`).

    Its shipments stay, with `integration_id` null; they are tracked through
    the tenant's only other active integration with that carrier, if any. 404 unknown id.
    """
    row = await service.get_or_404(
        session=session, tenant_id=principal.tenant_id, integration_id=integration_id, for_update=True
    )
    await service.delete(session=session, integration=row, actor=principal, request=request)
    return Response(status_code=204)


@router.post(
    "/{integration_id}/test",
    response_model=IntegrationCheck,
    summary="Test an integration's credentials",
    responses=problem_responses(
        _COMMON,
        IntegrationNotFound,
        CredentialsUndecryptable,
        UnsupportedCarrier,
        StoredCredentialsInvalid,
        CarrierCapabilityNotSupported,  # other carrier errors are the test's result, not a failure of the call
    ),
)
async def test_integration(
    integration_id: uuid.UUID,
    principal: TenantAdmin,
    session: TenantSession,
    settings: AppSettings,
    cipher: Cipher,
    http: Http,
) -> IntegrationCheck:
    """Make the carrier's cheapest authenticated call with the stored credentials and record the outcome.

    Always 200 when the test ran: `status: ok`, or `status: failed` with
    `last_error` and `error_type` (credentials rejected, carrier unavailable,
    rate limited...). The outcome is stored as last_check_status /
    last_checked_at / last_error. 404 unknown id; 501 if the carrier offers no credentials test.
    """
    outcome = await checks.test_connection(
        session=session, tenant_id=principal.tenant_id, integration_id=integration_id, settings=settings, cipher=cipher, http=http
    )
    row = outcome.integration
    return IntegrationCheck(
        integration_id=row.id,
        status=outcome.status,  # type: ignore[arg-type]
        last_checked_at=row.last_checked_at,  # type: ignore[arg-type] - record_check sets it
        last_error=row.last_error,
        error_type=outcome.error_type,
    )
