"""The request pipeline's dependencies: principal, role aliases, tenant session, settings, cipher, carrier HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import logging

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.principal import Principal, Role, resolve_api_key
from app.core.db.session import Database
from app.core.problems import ProblemError
from app.api.ratelimit import enforce as ratelimit
from app.core.config import Settings, get_settings
from app.core.crypto import CredentialsCipher, CredentialsKeyError, cipher_from_settings
from app.couriers.http import CarrierHttp, get_carrier_http

logger = logging.getLogger(__name__)

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="courier-hub"'}


def get_db(request: Request) -> Database:
    """The process's Database (set up in the app lifespan)."""
    return request.app.state.db


async def get_principal(request: Request, db: Annotated[Database, Depends(get_db)]) -> Principal:
    """Authenticate `Authorization: Bearer <key>`; 401 problem+json when missing, unknown, revoked or expired.

    Then rate-limits (app.api.ratelimit.enforce): 429 problem+json with Retry-After
    over the key's or tenant's plan limit, or while the client address is over
    its failed-authentication budget.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ProblemError(401, "unauthorized", "Send an API key as `Authorization: Bearer <key>`.", headers=_UNAUTHORIZED_HEADERS)
    await ratelimit.guard_auth_attempt(request)  # 429 while this address is over its failed-auth budget
    if len(token) > 200:
        principal = None
    else:
        principal = await resolve_api_key(db, token)
    if principal is None:
        await ratelimit.record_auth_failure(request)
        raise ProblemError(401, "unauthorized", "The API key is invalid, revoked or expired.", headers=_UNAUTHORIZED_HEADERS)
    request.state.principal = principal
    await ratelimit.enforce_principal(request, principal)  # 429 over the key's or tenant's plan limits
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role):  # noqa: ANN201 - FastAPI dependency factory
    """Dependency: the principal, if its role is one of `roles`; 403 otherwise."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise ProblemError(
                403, "forbidden", f"This operation needs one of the roles: {', '.join(roles)}.", role=principal.role
            )
        return principal

    return dependency


PlatformAdmin = Annotated[Principal, Depends(require_roles("platform_admin"))]
TenantMember = Annotated[Principal, Depends(require_roles("tenant_admin", "merchant", "courier"))]
MerchantOrAdmin = Annotated[Principal, Depends(require_roles("tenant_admin", "merchant"))]


async def tenant_session(principal: TenantMember, db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[AsyncSession]:
    """One transaction scoped to the caller's tenant; committed before the response is sent."""
    async with db.transaction(principal.tenant_id) as session:
        yield session


TenantSession = Annotated[AsyncSession, Depends(tenant_session, scope="function")]


def scoped_tenant_id(principal: Principal, tenant_id: uuid.UUID) -> uuid.UUID:
    """The tenant a principal may act on: any for platform admins, its own for tenant admins (404 otherwise).

    404 rather than 403 so a key cannot probe which tenant ids exist.
    """
    if principal.is_platform_admin or (principal.role == "tenant_admin" and principal.tenant_id == tenant_id):
        return tenant_id
    if principal.role == "tenant_admin":
        raise ProblemError(404, "not-found", "No such tenant.")
    raise ProblemError(403, "forbidden", "Only platform admins and the tenant's admins manage API keys.", role=principal.role)



def carrier_http(request: Request) -> CarrierHttp:
    """`app.state.carrier_http` when the app (or a test) set one, else the process-wide CarrierHttp."""
    http = getattr(request.app.state, "carrier_http", None)
    return http if http is not None else get_carrier_http()


def credentials_cipher(settings: Annotated[Settings, Depends(get_settings)]) -> CredentialsCipher:
    """The credentials cipher; 500 problem `credentials-encryption-unconfigured` when no key is set."""
    try:
        return cipher_from_settings(settings)
    except CredentialsKeyError as exc:
        logger.error("credentials encryption: %s", exc)
        raise ProblemError(
            500,
            "credentials-encryption-unconfigured",
            "The server cannot store or read carrier credentials: its encryption key is missing or malformed "
            "(operator: set CREDENTIALS_ENCRYPTION_KEYS).",
        ) from None


Cipher = Annotated[CredentialsCipher, Depends(credentials_cipher)]
Http = Annotated[CarrierHttp, Depends(carrier_http)]
