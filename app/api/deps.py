"""The request pipeline's dependencies — the one module to open first.

A request's path: `RequestContextMiddleware` (request id, body cap, security
headers) -> `get_principal` (the bearer key and its plan's limits resolved in
one statement, then rate limits) -> the request's ONE transaction, scoped with
`SET LOCAL` to the key's tenant -> for creating POSTs, the `Idempotency-Key`
claimed in that same transaction (`idempotent(...)`) -> the endpoint calls its
domain service, which writes integration events (and, through the outbox hook,
webhook deliveries) in that transaction -> commit before the response is sent.

Role aliases (`PlatformAdmin`, `TenantAdmin`, `TenantMember`,
`MerchantOrAdmin`, `KeyManager`) and sessions (`TenantSession`,
`PlatformAdminSession`) are defined here once; settings come from
`AppSettings` (the app's `state.settings`), nothing else.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api import support
from app.api.errors import Forbidden, TenantSuspended, Unauthorized
from app.api.principal import LastUsedStamper, Principal, Role, resolve
from app.api.ratelimit import enforce as ratelimit
from app.core.config import Settings
from app.core.crypto import CredentialsCipher, CredentialsKeyError, cipher_from_settings
from app.core.db.session import Database, driver_connection, set_scope
from app.core.problems import CredentialsEncryptionUnconfigured, NotFound
from app.core.requestid import bind_principal
from app.idempotency import service as idempotency

logger = logging.getLogger(__name__)

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="courier-hub"'}
_MAX_KEY_LENGTH = 200


async def get_db(request: Request) -> Database:
    """The process's Database (set up in the app lifespan)."""
    return request.app.state.db


async def get_app_settings(request: Request) -> Settings:
    """The app's Settings (`create_app(settings)` puts them on `app.state.settings`)."""
    return request.app.state.settings


Db = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_app_settings)]


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the endpoint returns, rolled back when it raises.

    Its scope (tenant, platform admin) is set by `get_principal` as soon as the
    key is known, and applies to every transaction of the session. An endpoint
    that must call a carrier may `await session.commit()` first, so that no
    transaction (nor pooled connection) is held while the carrier answers;
    its next statement begins a new transaction with the same scope.
    """
    db: Database = request.app.state.db
    try:
        async with db.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
    finally:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is not None:
            stamper: LastUsedStamper = request.app.state.key_stamper
            await stamper.stamp_if_due(db, principal)


RequestSession = Annotated[AsyncSession, Depends(request_session, scope="function")]


def refuse_suspended(principal: Principal) -> None:
    """Raise TenantSuspended (403 `tenant-suspended`) when the principal's tenant is suspended (API and console)."""
    if principal.tenant_status == "suspended":
        raise TenantSuspended("This tenant is suspended; its keys are refused until a platform admin reactivates it.")


async def get_principal(request: Request, session: RequestSession) -> Principal:
    """Authenticate `Authorization: Bearer <key>` and scope the request's transaction to its tenant.

    401 problem+json when the key is missing, unknown, revoked or expired. Then
    403 `tenant-suspended` for a key of a suspended tenant (the status comes
    with the key, in the same statement). Then rate limits
    (app.api.ratelimit.enforce): 429 problem+json with Retry-After over the
    key's or tenant's plan limit, or while the client address is over its
    failed-authentication budget. A platform-admin key with `X-Tenant-ID` gets
    support access to that tenant (app.api.support: read-only, audited).
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.", headers=_UNAUTHORIZED_HEADERS)
    await ratelimit.guard_auth_attempt(request)  # 429 while this address is over its failed-auth budget
    conn = await driver_connection(session)
    principal = await resolve(conn, token) if len(token) <= _MAX_KEY_LENGTH else None
    if principal is None:
        await ratelimit.record_auth_failure(request)
        raise Unauthorized("The API key is invalid, revoked or expired.", headers=_UNAUTHORIZED_HEADERS)
    request.state.principal = principal
    bind_principal(principal.tenant_id, principal.key_prefix)  # log lines: tenant id, key prefix
    refuse_suspended(principal)
    await ratelimit.enforce_principal(request, principal)  # 429 over the key's or tenant's plan limits
    if principal.is_platform_admin and support.TENANT_HEADER in request.headers:
        return await support.enter(request, session, principal)
    await set_scope(session, principal.tenant_id, platform_admin=principal.is_platform_admin)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


@functools.cache
def require_roles(*roles: Role) -> Any:
    """Dependency: the principal, if its role is one of `roles`; 403 `forbidden` otherwise.

    Cached, so one set of roles is one dependency: FastAPI then runs its check once per request.
    """

    async def dependency(principal: CurrentPrincipal) -> Principal:
        # Support access reads as the tenant's members would (it is GET/HEAD only, see app.api.support).
        if principal.role not in roles and not principal.is_support_access:
            raise Forbidden(f"This operation needs one of the roles: {', '.join(roles)}.", role=principal.role)
        return principal

    return dependency


PLATFORM_ADMIN: tuple[Role, ...] = ("platform_admin",)
TENANT_ADMIN: tuple[Role, ...] = ("tenant_admin",)
TENANT_MEMBER: tuple[Role, ...] = ("tenant_admin", "merchant", "courier")
MERCHANT_OR_ADMIN: tuple[Role, ...] = ("tenant_admin", "merchant")
KEY_MANAGER: tuple[Role, ...] = ("platform_admin", "tenant_admin")

PlatformAdmin = Annotated[Principal, Depends(require_roles(*PLATFORM_ADMIN))]
TenantAdmin = Annotated[Principal, Depends(require_roles(*TENANT_ADMIN))]
TenantMember = Annotated[Principal, Depends(require_roles(*TENANT_MEMBER))]
MerchantOrAdmin = Annotated[Principal, Depends(require_roles(*MERCHANT_OR_ADMIN))]
KeyManager = Annotated[Principal, Depends(require_roles(*KEY_MANAGER))]


async def tenant_session(_: TenantMember, session: RequestSession) -> AsyncSession:
    """The request's transaction, scoped to the caller's tenant (tenant keys only: 403 for platform admins)."""
    return session


async def platform_admin_session(_: PlatformAdmin, session: RequestSession) -> AsyncSession:
    """The request's transaction with `app.platform_admin` on (platform-admin keys only)."""
    return session


TenantSession = Annotated[AsyncSession, Depends(tenant_session)]
PlatformAdminSession = Annotated[AsyncSession, Depends(platform_admin_session)]


def scoped_tenant_id(principal: Principal, tenant_id: uuid.UUID) -> uuid.UUID:
    """The tenant a principal may act on: any for platform admins, its own for tenant admins (404 otherwise).

    404 rather than 403 so a key cannot probe which tenant ids exist.
    """
    if principal.is_platform_admin or (principal.role == "tenant_admin" and principal.tenant_id == tenant_id):
        return tenant_id
    if principal.role == "tenant_admin":
        raise NotFound("No such tenant.")
    raise Forbidden("Only platform admins and the tenant's admins may do this.", role=principal.role)


async def managed_tenant_session(tenant_id: uuid.UUID, principal: KeyManager, session: RequestSession) -> AsyncSession:
    """The request's transaction scoped to the path's `tenant_id`, if the caller may manage that tenant."""
    tenant_id = scoped_tenant_id(principal, tenant_id)
    if tenant_id != principal.tenant_id:
        await set_scope(session, tenant_id, platform_admin=principal.is_platform_admin)
    return session


ManagedTenantSession = Annotated[AsyncSession, Depends(managed_tenant_session)]


async def end_request_transaction(_: CurrentPrincipal, session: RequestSession) -> None:
    """For endpoints that call a carrier or Stripe: end the request's transaction once the key is checked.

    They then work in short transactions of their own (`Db`), so no
    transaction (nor pooled connection) is held while the outside answers.
    """
    await session.commit()


CallsOut = Annotated[None, Depends(end_request_transaction)]


def cipher_or_problem(settings: Settings) -> CredentialsCipher:
    """The credentials cipher; 500 problem `credentials-encryption-unconfigured` when no key is set."""
    try:
        return cipher_from_settings(settings)
    except CredentialsKeyError as exc:
        logger.error("credentials encryption: %s", exc)
        raise CredentialsEncryptionUnconfigured(
            "The server cannot store or read carrier credentials: its encryption key is missing or malformed "
            "(operator: set CREDENTIALS_ENCRYPTION_KEYS)."
        ) from None


async def credentials_cipher(settings: AppSettings) -> CredentialsCipher:
    """Dependency form of `cipher_or_problem`."""
    return cipher_or_problem(settings)


Cipher = Annotated[CredentialsCipher, Depends(credentials_cipher)]

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="1-255 printable ASCII characters, e.g. a UUID. A retry with the same "
           "key and body gets the first response again; another body is 422; while the first still runs, 409."),
]


def idempotent(roles: tuple[Role, ...], *, required: bool, sealed: bool = False) -> Any:
    """Declare a creating POST idempotent: `request: Annotated[IdempotentRequest, idempotent(MERCHANT_OR_ADMIN, required=True)]`.

    The endpoint does its work in `request.session` (the request's tenant
    transaction, the key already claimed in it) and answers with
    `await request.respond(status, payload)`, which stores the response in
    that transaction. A replay never reaches the endpoint. `required=True`:
    400 without the header. `sealed=True`: the stored response is encrypted
    (it shows a secret once). Errors: 400 `idempotency-key-missing` /
    `-invalid`, 409 `idempotency-key-in-flight`, 422 `idempotency-key-reused`.

    The claim is a lock held by the request's transaction: an idempotent
    endpoint must not commit mid-request (no `CallsOut`, no `session.commit()`),
    or a retry could run while it still works.
    """
    role_dependency = require_roles(*roles)

    async def dependency(
        request: Request,
        session: RequestSession,
        settings: AppSettings,
        idempotency_key: IdempotencyKeyHeader = None,
        # A default, not Annotated: annotations are strings here and cannot name this closure's variable.
        principal: Principal = Depends(role_dependency),  # noqa: B008
    ) -> AsyncIterator[idempotency.IdempotentRequest]:
        tenant_id = principal.tenant  # 403 for a platform-admin key
        cipher = cipher_or_problem(settings) if sealed else None
        body = await request.body()
        state = idempotency.IdempotentRequest(
            session=session,
            tenant_id=tenant_id,
            key=None,
            fingerprint=None,
            ttl_seconds=settings.idempotency_key_ttl_seconds,
            body=body,
            cipher=cipher,
        )
        if idempotency_key is not None or required:
            state.key = idempotency.validate_key(idempotency_key)
            state.parsed = idempotency.canonical_json(body)
            state.fingerprint = idempotency.RequestFingerprint.of(
                request.method,
                request.url.path,
                body,
                keys=idempotency.hash_keys(settings),
                canonical=state.parsed.canonical if state.parsed else body,
            )
            await idempotency.claim(
                session=session,
                tenant_id=tenant_id,
                key=state.key,
                fingerprint=state.fingerprint,
                retry_after_seconds=settings.idempotency_retry_after_seconds,
                cipher=cipher,
                stale_claim_seconds=settings.idempotency_stale_claim_seconds,
            )
        yield state
        if not state.responded:
            raise RuntimeError(f"{request.url.path}: an idempotent endpoint must answer with IdempotentRequest.respond")

    return Depends(dependency, scope="function")
