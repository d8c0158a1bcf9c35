"""The API's documentation pages, offline: /docs (Swagger UI) and /redoc from the assets of the
`fastapi-offline` package (no CDN), under a strict Content-Security-Policy; and the bearer security
scheme in the OpenAPI document, so Swagger UI's "Authorize" sends `Authorization: Bearer <key>`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.api.content_type import UnsupportedMediaType, is_json
from app.core.problems import problem_responses

ASSETS_PATH = "/docs/assets"
"""Where the Swagger UI / ReDoc files are served (swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png)."""

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

BEARER_SCHEME = "HTTPBearer"
"""The name of the security scheme in `components.securitySchemes` (FastAPI's name for HTTPBearer)."""


def docs_csp(nonce: str) -> str:
    """The Content-Security-Policy of a docs page: scripts only from this origin plus the page's one inline
    script (by `nonce`), styles from this origin and inline (Swagger UI and ReDoc set style attributes),
    images from this origin and data: URLs, fetches only to this origin, no frames, no plugins."""
    return (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "worker-src 'self' blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )


def _page(html: HTMLResponse) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = bytes(html.body).decode().replace("<script>", f'<script nonce="{nonce}">')
    return HTMLResponse(body, headers={"content-security-policy": docs_csp(nonce), "cache-control": "no-cache"})


def install_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve /docs, /docs/oauth2-redirect and /redoc with local assets; build the app with
    `FastAPI(docs_url=None, redoc_url=None)` so FastAPI's CDN pages are not registered."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    oauth2_redirect = f"{docs_url}/oauth2-redirect"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _page(
            get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=f"{root}{oauth2_redirect}",
                swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
                swagger_ui_parameters=app.swagger_ui_parameters,
            )
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _page(get_swagger_ui_oauth2_redirect_html())

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _page(
            get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
                with_google_fonts=False,
            )
        )


def install_bearer_security(app: FastAPI) -> None:
    """Declare `Authorization: Bearer <api key>` in `app.openapi()`: an HTTP bearer scheme named
    `HTTPBearer` in `components.securitySchemes`, required by every operation that can answer 401
    (the authenticated ones list the pipeline's `unauthorized` problem); and the 415
    `unsupported-media-type` problem on every operation whose request body is JSON only.
    Call after the problem handlers."""
    inner = app.openapi

    def openapi() -> dict[str, Any]:
        schema = inner()
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer chub_...` (POST /v1/tenants/{id}/api-keys, "
            "or `courier-hub create-admin-key`).",
        }
        unsupported = problem_responses(UnsupportedMediaType)[415]
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict):
                    continue
                responses = operation.setdefault("responses", {})
                if "401" in responses:
                    operation.setdefault("security", [{BEARER_SCHEME: []}])
                body = (operation.get("requestBody") or {}).get("content") or {}
                if body and all(is_json(media_type) for media_type in body):
                    responses.setdefault("415", unsupported)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
