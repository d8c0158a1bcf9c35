"""415 for a body that is not declared JSON on an endpoint that reads a JSON body (`PipelineRoute` calls this)."""

from __future__ import annotations

import email.message
from typing import Any

from fastapi import params
from fastapi.routing import APIRoute
from starlette.requests import Request

from app.core.problems import Problem


class UnsupportedMediaType(Problem):
    """The request has a body whose `Content-Type` is missing or not JSON (`application/json` or `application/*+json`)
    on an endpoint that reads JSON; nothing was changed. The `Accept-Post`/`Accept-Patch` headers name what is accepted."""

    status = 415
    type_ = "unsupported-media-type"
    title = "Unsupported Media Type"


def reads_json_body(route: APIRoute) -> bool:
    """Whether `route` parses its body as JSON: a Pydantic body parameter (not a form), or an
    `openapi_extra` requestBody whose every content type is JSON (endpoints that read the raw body, e.g. ingest)."""
    field = route.body_field
    if field is not None:
        return not isinstance(field.field_info, (params.Form, params.File))
    declared: dict[str, Any] = ((route.openapi_extra or {}).get("requestBody") or {}).get("content") or {}
    return bool(declared) and all(is_json(media_type) for media_type in declared)


def is_json(content_type: str) -> bool:
    """`application/json` or `application/<anything>+json`, with any parameters (charset)."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


def require_json_content_type(request: Request) -> None:
    """Raise `UnsupportedMediaType` (415) when the request carries a body whose Content-Type is missing or not JSON.

    A request without a body (no or zero Content-Length, no Transfer-Encoding) passes, whatever
    its Content-Type (endpoints whose body is optional); a JSON content type with parameters
    (`application/json; charset=utf-8`) passes.
    """
    content_type = request.headers.get("content-type")
    if not _has_body(request) or (content_type is not None and is_json(content_type)):
        return
    accept = "application/json"
    raise UnsupportedMediaType(
        f"This endpoint reads JSON: send the body as Content-Type: application/json (got {content_type or 'no Content-Type'}).",
        headers={f"Accept-{request.method.title()}": accept} if request.method in ("POST", "PATCH") else None,
    )
