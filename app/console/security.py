"""Who is signed in to the console, and the rules every console request follows.

* The session cookie (`SESSION_COOKIE`) holds only a random session id; the
  server keeps its hash (app.auth.sessions). HttpOnly, SameSite=Lax, Secure
  when the request came over https (the trusted scheme: TRUSTED_PROXIES).
* Every request but GET/HEAD must carry the session's CSRF token: form field
  `csrf_token` or header `X-CSRF-Token` (htmx sends it from `hx-headers` on
  <body>). Otherwise 403 `csrf-refused` and nothing runs.
* The session resolves to the same `Principal` as its API key, then the
  request's one transaction is scoped exactly as the API scopes it
  (`set_scope`: `SET LOCAL app.tenant_id`), so RLS bounds every query.
* Roles are checked here, on the server: `Viewer` (any tenant key the console
  admits: tenant_admin, merchant), `Manager` (tenant_admin), `Operator`
  (platform_admin), `Auditor` (tenant_admin or platform_admin: the roles of
  GET /v1/audit-log).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from app.api.deps import KEY_MANAGER, RequestSession, refuse_suspended
from app.api.errors import Forbidden
from app.api.principal import Principal
from app.api.ratelimit import enforce as ratelimit
from app.auth import service as keys
from app.auth import sessions
from app.core.db.session import set_scope
from app.core.requestid import bind_principal
from app.console.errors import CsrfRefused, SignInRequired

SESSION_COOKIE = "chub_console"
SIGN_IN_COOKIE = "chub_console_signin"
"""A random value set with the sign-in form, echoed by it (double-submit CSRF before any session exists)."""
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""The console pages' Content-Security-Policy: scripts and styles from this origin only (no inline script)."""

CONSOLE_ROLES = ("tenant_admin", "merchant", "platform_admin")
"""Keys that may sign in (courier keys are for carriers' pushes, not people)."""


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in key, its session id (never shown) and the CSRF token its forms carry."""

    principal: Principal
    session_id: str

    @property
    def csrf(self) -> str:
        """The session's CSRF token (app.auth.sessions.csrf_token)."""
        return sessions.csrf_token(self.session_id)

    @property
    def role(self) -> str:
        """The key's role."""
        return self.principal.role

    @property
    def can_manage(self) -> bool:
        """Whether this user may change things (tenant admins only; merchants read)."""
        return self.principal.role == "tenant_admin"


def is_https(request: Request) -> bool:
    """Whether the request came over https (after trusted-proxy headers were applied)."""
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None = None) -> None:
    """Set a console cookie: HttpOnly, SameSite=Lax, path /console, Secure over https."""
    response.set_cookie(
        name, value, max_age=max_age, path="/console", httponly=True, samesite="lax", secure=is_https(request)
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    """Remove a console cookie (same attributes as `set_cookie`)."""
    response.delete_cookie(name, path="/console", httponly=True, samesite="lax", secure=is_https(request))


def new_sign_in_token() -> str:
    """A fresh double-submit token for the sign-in form."""
    return secrets.token_urlsafe(24)


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token the request carries: `X-CSRF-Token`, else the form field `csrf_token`."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def console_user(request: Request, session: RequestSession) -> ConsoleUser:
    """The signed-in user of the request, its transaction scoped to the user's tenant.

    Raises SignInRequired (the handler redirects to the sign-in page), CsrfRefused
    for a state-changing request without the session's token, 429 over the key's
    plan limits (as the API), and Forbidden for a key the console does not admit.
    """
    session_id = request.cookies.get(SESSION_COOKIE, "")
    idle = request.app.state.settings.console_session_idle_seconds
    principal = await sessions.resolve_session(session=session, session_id=session_id, idle_seconds=idle) if session_id else None
    if principal is None:
        raise SignInRequired("Your console session has ended; sign in again.")
    if request.method not in SAFE_METHODS and not sessions.csrf_matches(session_id, await submitted_csrf(request)):
        raise CsrfRefused("This form was not sent by a console page of this session (CSRF token missing or wrong).")
    if principal.role not in CONSOLE_ROLES:
        raise Forbidden("This key's role cannot use the console.", role=principal.role)
    refuse_suspended(principal)
    request.state.principal = principal
    bind_principal(principal.tenant_id, f"console:{principal.key_name}")
    await ratelimit.enforce_principal(request, principal)
    await set_scope(session, principal.tenant_id, platform_admin=principal.is_platform_admin)
    if request.method not in SAFE_METHODS and principal.key_prefix is None:
        # What a console form changes is audited with the key's prefix, as an API request with the key would be.
        prefix = await keys.key_prefix(session=session, key_id=principal.key_id, tenant_id=principal.tenant_id)
        principal = replace(principal, key_prefix=prefix)
        request.state.principal = principal
    user = ConsoleUser(principal=principal, session_id=session_id)
    request.state.console_user = user  # error pages keep the navigation of who is signed in
    return user


AnyUser = Annotated[ConsoleUser, Depends(console_user)]


async def _viewer(user: AnyUser) -> ConsoleUser:
    if user.principal.tenant_id is None:
        raise Forbidden("These pages show one tenant's data; platform admins use the Admin pages.", role=user.role)
    return user


async def _manager(user: Annotated[ConsoleUser, Depends(_viewer)]) -> ConsoleUser:
    if not user.can_manage:
        raise Forbidden("Only a tenant admin key may change this; merchant keys see the console read-only.", role=user.role)
    return user


async def _operator(user: AnyUser) -> ConsoleUser:
    if not user.principal.is_platform_admin:
        raise Forbidden("The Admin pages are for platform admins.", role=user.role)
    return user


AUDITOR_ROLES = KEY_MANAGER
"""Who may read the audit log: the roles GET /v1/audit-log admits (platform_admin, tenant_admin); merchants may not."""


async def _auditor(user: AnyUser) -> ConsoleUser:
    if user.role not in AUDITOR_ROLES:
        raise Forbidden("The audit log is for tenant admins and platform admins (as GET /v1/audit-log).", role=user.role)
    return user


Viewer = Annotated[ConsoleUser, Depends(_viewer)]
"""A tenant's signed-in key (tenant_admin or merchant): may read that tenant's pages."""
Manager = Annotated[ConsoleUser, Depends(_manager)]
"""A tenant admin: may change the tenant's carriers, webhooks, keys and book labels."""
Operator = Annotated[ConsoleUser, Depends(_operator)]
"""A platform admin: the Admin pages."""
Auditor = Annotated[ConsoleUser, Depends(_auditor)]
"""A tenant admin (its tenant's entries) or a platform admin (every tenant's): the Audit log page."""
