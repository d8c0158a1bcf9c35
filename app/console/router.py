"""Mounting the console: its routers under /console, its static files, and HTML error pages for /console paths.

Adding a page: write `pages/<section>.py` with `router = APIRouter()` (copy
`pages/orders.py`: a list route and a detail route taking `Viewer`, a form
route taking `Manager`), its templates (copy `templates/orders.html`), add the
module to `SECTIONS` below and a `NavItem` to `app.console.templating.NAV`.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.console.errors import SignInRequired
from app.console.pages import (
    admin, analytics, api_keys, audit_log, auth, batches, carriers, labels, orders, overview, reviews, shipments, webhooks,
)
from app.console.security import CONSOLE_CSP
from app.console.templating import HERE, render
from app.core.problems import Problem

logger = logging.getLogger(__name__)

SECTIONS = (
    auth, overview, orders, shipments, reviews, batches, labels, carriers, webhooks, analytics, api_keys, admin, audit_log,
)
"""The page modules, each an APIRouter mounted at /console (batches before labels: its paths are more specific)."""


def _is_console(request: Request) -> bool:
    return request.url.path == "/console" or request.url.path.startswith("/console/")


def _error_page(request: Request, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    user = getattr(request.state, "console_user", None)
    response = render(request, "error.html", user, status_code=status, title=title, status=status, detail=detail)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _sign_in_redirect(request: Request) -> Response:
    target = "/console/sign-in"
    if request.method == "GET":
        target += "?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="/")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target, "content-security-policy": CONSOLE_CSP})
    return RedirectResponse(target, status_code=303)


def install_console(app: FastAPI) -> None:
    """Mount /console and /console/static, and wrap the app's error handlers: under /console, errors are HTML pages
    (sign-in required: a redirect to the sign-in form); elsewhere the API's problem+json handlers answer as before."""
    for section in SECTIONS:
        app.include_router(section.router, prefix="/console", include_in_schema=False)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    previous = {cls: app.exception_handlers[cls] for cls in (Problem, StarletteHTTPException, RequestValidationError)}

    async def problem(request: Request, exc: Problem) -> Any:
        if not _is_console(request):
            return await previous[Problem](request, exc)
        if isinstance(exc, SignInRequired):
            return _sign_in_redirect(request)
        return _error_page(request, exc.status, exc.title, exc.detail, exc.headers)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if not _is_console(request):
            return await previous[StarletteHTTPException](request, exc)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return _error_page(request, exc.status_code, title, "There is no such console page." if exc.status_code == 404 else str(exc.detail))

    async def validation_error(request: Request, exc: RequestValidationError) -> Any:
        if not _is_console(request):
            return await previous[RequestValidationError](request, exc)
        fields = "; ".join(f"{'.'.join(str(p) for p in err['loc'][1:])}: {err['msg']}" for err in exc.errors())
        return _error_page(request, 422, "Invalid input", f"The form or link has invalid values ({fields}).")

    app.add_exception_handler(Problem, problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
