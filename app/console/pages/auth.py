"""/console/sign-in and /console/sign-out: an API key exchanged for a server-side session, and back."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.api.deps import RequestSession
from app.api.ratelimit import enforce as ratelimit
from app.auth import sessions
from app.console import security
from app.console.errors import CsrfRefused
from app.console.security import AnyUser
from app.console.templating import render

router = APIRouter()


def _safe_next(value: str | None) -> str:
    """Only a console path may follow sign-in (no open redirect)."""
    if value and value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console"


@router.get("/sign-in", summary="The sign-in form")
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    """The form asking for an API key, with a fresh double-submit CSRF token (also set as a cookie)."""
    token = security.new_sign_in_token()
    response = render(request, "sign_in.html", None, title="Sign in", sign_in_token=token, next=_safe_next(next))
    security.set_cookie(response, request, security.SIGN_IN_COOKIE, token, max_age=3600)
    return response


@router.post("/sign-in", summary="Exchange an API key for a console session")
async def sign_in(
    request: Request,
    session: RequestSession,
    api_key: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Open a session for a valid key of a console role and set its cookie; 401 with the form again otherwise.

    The form's token must equal the sign-in cookie (403 `csrf-refused` otherwise).
    Failed attempts count against the address's failed-authentication budget (429 over it), as for the API.
    """
    cookie = request.cookies.get(security.SIGN_IN_COOKIE, "")
    if not cookie or not csrf_token or not hmac.compare_digest(cookie, csrf_token):
        raise CsrfRefused("The sign-in form expired or came from another site; reload it and try again.")
    await ratelimit.guard_auth_attempt(request)
    settings = request.app.state.settings
    opened = await sessions.open_session(
        session=session, api_key=api_key.strip(), max_seconds=settings.console_session_max_seconds
    )
    if opened is None or opened[1].role not in security.CONSOLE_ROLES:
        await session.rollback()  # a courier key's session is not kept
        await ratelimit.record_auth_failure(request)
        token = security.new_sign_in_token()
        message = (
            "That API key is invalid, revoked or expired."
            if opened is None
            else "Courier keys cannot sign in to the console; use a tenant admin or merchant key."
        )
        response = render(
            request, "sign_in.html", None, status_code=401, title="Sign in", error=message,
            sign_in_token=token, next=_safe_next(next),
        )
        security.set_cookie(response, request, security.SIGN_IN_COOKIE, token, max_age=3600)
        return response
    session_id, principal = opened
    target = _safe_next(next)
    if target == "/console":
        target = "/console/admin" if principal.is_platform_admin else "/console/overview"
    response = RedirectResponse(target, status_code=303)
    security.set_cookie(response, request, security.SESSION_COOKIE, session_id)
    security.clear_cookie(response, request, security.SIGN_IN_COOKIE)
    return response


@router.post("/sign-out", summary="End the console session")
async def sign_out(request: Request, user: AnyUser, session: RequestSession) -> Response:
    """Delete the session on the server and its cookie; back to the sign-in form."""
    await sessions.close_session(session=session, session_id=user.session_id)
    response = RedirectResponse("/console/sign-in", status_code=303)
    security.clear_cookie(response, request, security.SESSION_COOKIE)
    return response


@router.get("", summary="The console's start page")
@router.get("/", include_in_schema=False)
async def home(user: AnyUser) -> Response:
    """Platform admins start at Admin, tenant keys at Overview."""
    return RedirectResponse("/console/admin" if user.principal.is_platform_admin else "/console/overview", status_code=303)
