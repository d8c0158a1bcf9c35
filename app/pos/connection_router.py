"""/v1/pos/connections (a tenant's shops, tenant admins) and /v1/pos/webhooks/{connection_id} (platform pushes)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from app.api.deps import AppSettings, Cipher, TenantAdmin, TenantSession
from app.api.errors import PIPELINE_PROBLEMS, RateLimited
from app.api.ratelimit import enforce as ratelimit
from app.api.routing import PipelineRouter
from app.carriers.deps import Http
from app.core.crypto import CredentialsCipher, CredentialsKeyError, cipher_from_settings
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import (
    BodyTooLarge,
    CredentialsEncryptionUnconfigured,
    InvalidCursor,
    PayloadTooDeep,
    problem_responses,
)
from app.pos import connections, push
from app.pos.connection_schemas import (
    ConnectionCreate,
    ConnectionOut,
    ConnectionUpdate,
    PosSource,
    PushAck,
    RotateSecret,
)
from app.pos.errors import (
    ConnectionExists,
    ConnectionIsDefault,
    ConnectionNotFound,
    PlatformUnavailable,
    PushNotSupported,
    PushPayloadInvalid,
    PushSignatureInvalid,
)
from app.pos.models import PosConnection

router = PipelineRouter(prefix="/v1/pos", tags=["pos connections"])

_COMMON = (PIPELINE_PROBLEMS, CredentialsEncryptionUnconfigured)


def _out(row: PosConnection, cipher: CredentialsCipher, base_url: str) -> ConnectionOut:
    return ConnectionOut(
        id=row.id,
        source=row.source,  # type: ignore[arg-type]
        name=row.name,
        is_default=row.is_default,
        shop_domain=row.shop_domain,
        site_url=row.site_url,
        location_id=row.location_id,
        merchant_id=row.merchant_id,
        organization_uuid=row.organization_uuid,
        notification_url=row.notification_url,
        environment=row.environment,  # type: ignore[arg-type]
        webhook_url=None if row.is_default else base_url + connections.webhook_path(row.id),
        signing_secret_set=bool(row.signing_secret_ciphertext),
        previous_secret_expires_at=connections.previous_secret_expires_at(connection=row, cipher=cipher),
        access_token_set=bool(row.access_token_ciphertext),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.post(
    "/connections",
    status_code=201,
    response_model=ConnectionOut,
    summary="Connect a shop",
    responses=problem_responses(_COMMON, ConnectionExists),
)
async def create_connection(
    body: ConnectionCreate,
    principal: TenantAdmin,
    session: TenantSession,
    settings: AppSettings,
    cipher: Cipher,
    request: Request,
) -> ConnectionOut:
    """Store a connection; `signing_secret` (and `access_token`) are encrypted and never shown again.

    Paste the answer's `webhook_url` into the platform's webhook settings. 409
    `connection-exists` when a live connection of this source has this name;
    422 field by field for bad input (a signing secret is required except for
    lightspeed, whose pushes cannot be verified).
    """
    row = await connections.create(
        session=session, tenant_id=principal.tenant, cipher=cipher, fields=body.model_dump(exclude_unset=False),
        actor=principal, request=request,
    )
    return _out(row, cipher, settings.public_base)


@router.get(
    "/connections",
    response_model=Page[ConnectionOut],
    summary="List shop connections",
    responses=problem_responses(_COMMON, InvalidCursor),
)
async def list_connections(
    principal: TenantAdmin,
    session: TenantSession,
    settings: AppSettings,
    cipher: Cipher,
    params: Annotated[PageParams, Depends(page_params)],
    source: Annotated[PosSource | None, Query(description="Only this platform's connections.")] = None,
) -> dict:
    """The tenant's live connections (the implicit API-key ones too, `is_default`), newest first, cursor-paginated."""
    rows = await connections.list_page(session=session, tenant_id=principal.tenant, params=params, source=source)
    return make_page(rows, params, convert=lambda row: _out(row, cipher, settings.public_base))


@router.get(
    "/connections/{connection_id}",
    response_model=ConnectionOut,
    summary="Get a shop connection",
    responses=problem_responses(_COMMON, ConnectionNotFound),
)
async def get_connection(
    connection_id: uuid.UUID, principal: TenantAdmin, session: TenantSession, settings: AppSettings, cipher: Cipher
) -> ConnectionOut:
    """One connection (never its secrets); 404 if the tenant has no live one with this id."""
    row = await connections.get_or_404(session=session, tenant_id=principal.tenant, connection_id=connection_id)
    return _out(row, cipher, settings.public_base)


@router.patch(
    "/connections/{connection_id}",
    response_model=ConnectionOut,
    summary="Change a shop connection",
    responses=problem_responses(_COMMON, ConnectionNotFound, ConnectionExists, ConnectionIsDefault),
)
async def update_connection(
    connection_id: uuid.UUID,
    body: ConnectionUpdate,
    principal: TenantAdmin,
    session: TenantSession,
    settings: AppSettings,
    cipher: Cipher,
    request: Request,
) -> ConnectionOut:
    """Change the fields sent (name, shop identity, `notification_url`, `access_token`, `environment`).

    The signing secret changes only through rotate-secret. 404 unknown id;
    409 `connection-exists` (name taken), `connection-is-default`.
    """
    row = await connections.editable_or_404(session=session, tenant_id=principal.tenant, connection_id=connection_id)
    row = await connections.update_connection(
        session=session, connection=row, cipher=cipher, changes=body.model_dump(exclude_unset=True),
        actor=principal, request=request,
    )
    return _out(row, cipher, settings.public_base)


@router.post(
    "/connections/{connection_id}/rotate-secret",
    response_model=ConnectionOut,
    summary="Rotate a connection's signing secret",
    responses=problem_responses(_COMMON, ConnectionNotFound, ConnectionIsDefault),
)
async def rotate_connection_secret(
    connection_id: uuid.UUID,
    body: RotateSecret,
    principal: TenantAdmin,
    session: TenantSession,
    settings: AppSettings,
    cipher: Cipher,
    request: Request,
) -> ConnectionOut:
    """Make `signing_secret` (the platform's new secret) current; the old one is still accepted until
    `previous_secret_expires_at` (`overlap_seconds`, default WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS).

    404 unknown id; 409 `connection-is-default`.
    """
    row = await connections.editable_or_404(session=session, tenant_id=principal.tenant, connection_id=connection_id)
    overlap = settings.webhook_secret_rotation_overlap_seconds if body.overlap_seconds is None else body.overlap_seconds
    row = await connections.rotate_secret(
        session=session, connection=row, cipher=cipher, secret=body.signing_secret, overlap_seconds=overlap,
        actor=principal, request=request,
    )
    return _out(row, cipher, settings.public_base)


@router.delete(
    "/connections/{connection_id}",
    status_code=204,
    summary="Delete a shop connection",
    responses=problem_responses(PIPELINE_PROBLEMS, ConnectionNotFound, ConnectionIsDefault),
)
async def delete_connection(
    connection_id: uuid.UUID, principal: TenantAdmin, session: TenantSession, request: Request
) -> Response:
    """Delete the connection and its secrets: its `webhook_url` answers 404 from now on; its orders stay. 404 unknown id."""
    row = await connections.editable_or_404(session=session, tenant_id=principal.tenant, connection_id=connection_id)
    await connections.delete(session=session, connection=row, actor=principal, request=request)
    return Response(status_code=204)


def _cipher(settings: AppSettings) -> CredentialsCipher | None:
    try:
        return cipher_from_settings(settings)
    except CredentialsKeyError:
        return None  # a problem only once a sealed secret must be read (then 500)


@router.post(
    "/webhooks/{connection_id}",
    response_model=PushAck,
    summary="Receive a shop platform's order push",
    responses=problem_responses(
        RateLimited,
        ConnectionNotFound,
        PushSignatureInvalid,
        PushPayloadInvalid,
        PushNotSupported,
        PlatformUnavailable,
        BodyTooLarge,
        PayloadTooDeep,
        CredentialsEncryptionUnconfigured,
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The platform's webhook body, byte for byte as it signed it.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "description": "WooCommerce's `webhook_id=<n>` ping (answered `ignored`)."}
                },
            },
        }
    },
)
async def receive_push(
    connection_id: str, request: Request, settings: AppSettings, http: Http
) -> PushAck:
    """A platform's push for one connection (no API key: the platform's own signature authenticates it).

    Shopify `X-Shopify-Hmac-Sha256`, WooCommerce `X-WC-Webhook-Signature`,
    Square `x-square-hmacsha256-signature` (over the notification URL +
    body), Zettle `X-iZettle-Signature`, generic Standard Webhooks; see
    app.pos.verify. The platform's delivery id is the idempotency key: a
    re-delivery answers 200 `duplicate`. 401 `push-signature-invalid` and
    nothing stored when the signature does not match; failures count against
    the client address's failed-authentication budget (429 over it).
    """
    await ratelimit.guard_auth_attempt(request)  # 429 while this address is over its failed-auth budget
    try:
        parsed = uuid.UUID(connection_id)
    except ValueError:
        await ratelimit.record_auth_failure(request)
        raise ConnectionNotFound("No such POS connection.") from None
    try:
        outcome = await push.receive(
            db=request.app.state.db,
            settings=settings,
            cipher=_cipher(settings),
            http=http,
            connection_id=parsed,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
    except (ConnectionNotFound, PushSignatureInvalid):
        await ratelimit.record_auth_failure(request)
        raise
    return PushAck(status=outcome.status, order_id=outcome.order_id, result=outcome.result)  # type: ignore[arg-type]
