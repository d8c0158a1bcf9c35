"""RFC 9457 problem details: the one error shape of the API.

Every error leaves as `application/problem+json` with `type`, `title`,
`status`, `detail` (and `instance` = request id, plus extension members
such as `errors` for validation problems). Never a stack trace.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.requestid import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://courier-hub.dev/problems/"


class ProblemError(Exception):
    """Raise to answer with a problem+json; `type_` is a short slug, e.g. "idempotency-key-reused"."""

    def __init__(
        self,
        status: int,
        type_: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.type_ = type_
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    status: int,
    type_: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": type_ if type_.startswith(("http", "about:")) else PROBLEM_BASE + type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    request_id = current_request_id()
    if request_id:
        body["instance"] = f"urn:request:{request_id}"
    body.update(jsonable_encoder(extensions))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        errors.append({"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")})
    return errors


async def _problem_error(_: Request, exc: ProblemError) -> JSONResponse:
    return problem_response(exc.status, exc.type_, exc.detail, title=exc.title, headers=exc.headers, **exc.extensions)


async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 403: "forbidden", 413: "body-too-large"}.get(
        exc.status_code, "http-error"
    )
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, slug, detail, headers=getattr(exc, "headers", None))


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = _validation_errors(exc)
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(400, "malformed-json", "The request body is not valid JSON.", errors=errors)
    return problem_response(422, "validation-error", "The request is not valid; see `errors`.", errors=errors)


UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})
"""PostgreSQL's character_not_in_repertoire / untranslatable_character: a NUL (U+0000) in text or JSONB."""


async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
    if sqlstate in UNSTORABLE_TEXT_SQLSTATES:
        return problem_response(
            422, "unsupported-character", "The request contains a NUL character (U+0000), which cannot be stored."
        )
    return await _unhandled(request, exc)


async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return problem_response(500, "internal-error", "An unexpected error occurred; it has been logged.")


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(ProblemError, _problem_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _database_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled)
