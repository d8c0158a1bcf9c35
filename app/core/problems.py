"""RFC 9457 problem details: the one error shape of the API.

Every error leaves as `application/problem+json` with `type`, `title`,
`status`, `detail` (and `instance` = request id, plus extension members
such as `errors` for validation problems). Never a stack trace.
"""

from __future__ import annotations

import inspect
import logging
import socket
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.requestid import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://courier-hub.dev/problems/"


class Problem(Exception):
    """Base of every API error: raise a subclass to answer with one problem+json.

    A subclass names one kind of error with class attributes: `status` (the
    HTTP status), `type_` (the slug after PROBLEM_BASE, e.g. "unknown-source"),
    `title` (short, the same for every occurrence) and a docstring saying when
    it is raised (shown in the OpenAPI document). An instance carries the
    occurrence: `detail`, optional response `headers` and extension members
    (e.g. `known_sources=[...]`), rendered next to the standard members.
    One slug has one status across all subclasses (tests/test_problems.py).
    """

    status: int = 500
    type_: str = "internal-error"
    title: str = "Internal Server Error"

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None, **extensions: Any) -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)
        self.headers: dict[str, str] = dict(headers or {})
        self.extensions: dict[str, Any] = extensions

    @classmethod
    def summary(cls) -> str:
        """The first paragraph of the class docstring, on one line (the OpenAPI description of this error)."""
        doc = inspect.getdoc(cls) or cls.title
        return " ".join(doc.split("\n\n", 1)[0].split())

    def response(self) -> JSONResponse:
        """This problem as a problem+json response."""
        return problem_response(
            self.status, self.type_, self.detail, title=self.title, headers=self.headers, **self.extensions
        )


# --------------------------------------------------------------------------- generic problems


class DatabaseUnavailable(Problem):
    """The database did not answer or dropped the connection; nothing was changed. Retry after `Retry-After` seconds."""

    status = 503
    type_ = "database-unavailable"
    title = "Database unavailable"


class UnstorableValue(Problem):
    """A value in the request is out of what the database can store (a number or date out of range, a malformed value)."""

    status = 422
    type_ = "unstorable-value"
    title = "Unstorable value"


class InternalError(Problem):
    """An unexpected server error; it has been logged (never a stack trace in the body)."""

    status = 500
    type_ = "internal-error"
    title = "Internal Server Error"


class NotFound(Problem):
    """The URL (or a resource named in its path) names nothing this caller may see."""

    status = 404
    type_ = "not-found"
    title = "Not Found"


class MethodNotAllowed(Problem):
    """The URL exists but does not accept this HTTP method (see the `Allow` header)."""

    status = 405
    type_ = "method-not-allowed"
    title = "Method Not Allowed"


class ValidationFailed(Problem):
    """The request (path, query, headers or body) does not match its schema; `errors` lists each failure."""

    status = 422
    type_ = "validation-error"
    title = "Unprocessable Content"


class MalformedJson(Problem):
    """The request body is not valid JSON."""

    status = 400
    type_ = "malformed-json"
    title = "Bad Request"


class BodyTooLarge(Problem):
    """The request body exceeds the server's size cap (MAX_BODY_BYTES)."""

    status = 413
    type_ = "body-too-large"
    title = "Content Too Large"


class PayloadTooDeep(Problem):
    """The JSON body nests objects and arrays deeper than the server reads (app.core.jsonio.MAX_JSON_DEPTH, 64 levels)."""

    status = 422
    type_ = "payload-too-deep"
    title = "Payload too deeply nested"


class UnsupportedCharacter(Problem):
    """The request contains a NUL character (U+0000), which PostgreSQL cannot store in text or JSON."""

    status = 422
    type_ = "unsupported-character"
    title = "Unprocessable Content"


class InvalidCursor(Problem):
    """The `cursor` query parameter is not a `next_cursor` of a previous page."""

    status = 400
    type_ = "invalid-cursor"
    title = "Bad Request"


class CredentialsEncryptionUnconfigured(Problem):
    """The server's CREDENTIALS_ENCRYPTION_KEYS are missing or malformed, so stored secrets cannot be used (operator error)."""

    status = 500
    type_ = "credentials-encryption-unconfigured"
    title = "Credentials encryption unconfigured"


def all_problem_classes() -> list[type[Problem]]:
    """Every Problem subclass imported so far (recursively)."""
    found: list[type[Problem]] = []
    pending = list(Problem.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls not in found:
            found.append(cls)
            pending.extend(cls.__subclasses__())
    return found


# --------------------------------------------------------------------------- OpenAPI


PROBLEM_SCHEMA_NAME = "Problem"
PROBLEM_SCHEMA_REF = f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA_NAME,
    "type": "object",
    "description": "An RFC 9457 problem detail (`application/problem+json`); more extension members may appear.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": f"The kind of error: {PROBLEM_BASE}<slug>, one status per slug.",
            "examples": [f"{PROBLEM_BASE}not-found"],
        },
        "title": {"type": "string", "description": "A short summary of the kind of error."},
        "status": {"type": "integer", "description": "The HTTP status code.", "examples": [404]},
        "detail": {"type": "string", "description": "What went wrong in this occurrence."},
        "instance": {"type": "string", "description": "This occurrence: `urn:request:<X-Request-ID>`."},
        "errors": {
            "type": "array",
            "description": "Validation problems only: one entry per failed field.",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}


def problem_responses(*classes: type[Problem] | Iterable[Any]) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` for routes that raise `classes` (classes or nested iterables of them, duplicates ignored).

    One entry per status; its description lists each class's slug and docstring
    summary (several classes per status joined), its content is
    `application/problem+json` with the `Problem` schema component.
    """
    flat: list[type[Problem]] = []
    pending: list[Any] = list(reversed(classes))
    while pending:
        item = pending.pop()
        if isinstance(item, type) and issubclass(item, Problem):
            if item not in flat:
                flat.append(item)
        elif isinstance(item, Iterable) and not isinstance(item, (str, bytes, type)):
            pending.extend(reversed(list(item)))
        else:
            raise TypeError(f"not a Problem class: {item!r}")
    by_status: dict[int, list[type[Problem]]] = {}
    for cls in flat:
        by_status.setdefault(cls.status, []).append(cls)
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted(by_status):
        lines = [f"`{cls.type_}`: {cls.summary()}" for cls in by_status[status]]
        responses[status] = {
            "description": "\n\n".join(lines),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
    return responses


def install_problem_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` describe problem+json: a `Problem` schema, FastAPI's default 422 replaced by it.

    FastAPI adds a 422 `HTTPValidationError` (application/json) to every route with
    parameters; the server never sends that shape, so each such 422 becomes the
    `validation-error` problem (merged with the route's own 422 problems, if any).
    """
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = default_openapi()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
        validation = problem_responses(ValidationFailed)[422]
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
                response = responses.get("422")
                if response is None:
                    continue
                content = response.get("content", {})
                if PROBLEM_MEDIA_TYPE not in content:
                    responses["422"] = validation
                else:
                    content.pop("application/json", None)
                    if ValidationFailed.type_ not in response.get("description", ""):
                        response["description"] = validation["description"] + "\n\n" + response["description"]
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


# --------------------------------------------------------------------------- rendering


def problem_type_uri(type_: str) -> str:
    """The `type` member for `type_`: a slug ("not-found", "http-error") becomes PROBLEM_BASE + slug;
    a URI (it has a scheme: "about:blank", "https://...") is kept as is. Slugs never contain ':'."""
    return type_ if ":" in type_ else PROBLEM_BASE + type_


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
        "type": problem_type_uri(type_),
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


async def _problem_error(_: Request, exc: Problem) -> JSONResponse:
    return exc.response()


_HTTP_PROBLEMS: dict[int, type[Problem]] = {
    cls.status: cls for cls in (NotFound, MethodNotAllowed, BodyTooLarge)
}


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
"""The methods a 405's `Allow` header may name."""


def allowed_methods(request: Request) -> list[str]:
    """Every method of HTTP_METHODS that some route of the app serves at the request's path.

    Starlette's 405 names only the methods of the first route matching the
    path, while a path often has one route per method (GET and POST
    /v1/plans). Each method is probed against the app's routes (nested
    included routers too) with a copy of the request scope.
    """
    routes = getattr(getattr(request.app, "router", None), "routes", ())
    allowed = []
    for method in HTTP_METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405 and (methods := allowed_methods(request)):
        headers = {**(headers or {}), "Allow": ", ".join(methods)}
    cls = _HTTP_PROBLEMS.get(exc.status_code)
    if cls is not None:
        return cls(detail, headers=headers).response()
    # No meaning beyond the status code: RFC 9457 section 4.2.1's "about:blank", titled by the status phrase.
    return problem_response(exc.status_code, "about:blank", detail, headers=headers)


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = _validation_errors(exc)
    if any(e["type"] == "json_invalid" for e in errors):
        return MalformedJson("The request body is not valid JSON.", errors=errors).response()
    return ValidationFailed("The request is not valid; see `errors`.", errors=errors).response()


UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})
"""PostgreSQL's character_not_in_repertoire / untranslatable_character: a NUL (U+0000) in text or JSONB."""


_DISCONNECTS = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError)
_UNREACHABLE = (ConnectionError, TimeoutError, socket.gaierror)
"""What opening a connection raises when the server is down or unreachable (asyncpg does not wrap it, nor does SQLAlchemy)."""
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P")
"""SQLSTATEs of a server that cannot serve now: connection exceptions (08), insufficient resources such as
`too many connections` (53300), and a server shutting down, restarting or starting up (57P01-57P05)."""


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """SQLAlchemy's and asyncpg's errors (hot paths talk to the driver directly) as problems.

    A NUL character is 422 `unsupported-character`; another data exception
    (SQLSTATE class 22: a number or date out of range, a malformed value) is
    422 `unstorable-value`; a connection the server dropped (there is no
    pre-ping: it fails its first statement and is invalidated) and a server
    that cannot serve now (SQLSTATE 08, 53 such as too many connections, 57P
    shutting down or starting up) are 503 `database-unavailable` with
    Retry-After; anything else is a 500.
    """
    orig = getattr(exc, "orig", exc)
    cause = getattr(orig, "__cause__", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
    if sqlstate in UNSTORABLE_TEXT_SQLSTATES:
        return UnsupportedCharacter("The request contains a NUL character (U+0000), which cannot be stored.").response()
    if isinstance(sqlstate, str) and sqlstate.startswith("22"):
        logger.info("unstorable value: %s", orig)
        return UnstorableValue("A value in the request cannot be stored (out of range or malformed).").response()
    if getattr(exc, "connection_invalidated", False) or isinstance(orig, _DISCONNECTS) or isinstance(cause, _DISCONNECTS):
        logger.warning("database connection lost: %s", exc)
        return DatabaseUnavailable("The database connection was lost; retry.", headers={"Retry-After": "1"}).response()
    if isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATE_PREFIXES):
        logger.warning("database unavailable (SQLSTATE %s): %s", sqlstate, orig)
        return DatabaseUnavailable("The database cannot take this request now; retry.", headers={"Retry-After": "1"}).response()
    return await _unhandled(request, exc)


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    """A connection that could not be opened (refused, timed out, unknown host): 503 `database-unavailable`.

    Only the database is reached with raw sockets on the request path (httpx
    and redis wrap their own errors), so a refused connection at pool
    checkout is the database being down. Any other OSError is a 500.
    """
    if isinstance(exc, _UNREACHABLE):
        logger.warning("database unreachable: %r", exc)
        return DatabaseUnavailable("The database cannot be reached; retry.", headers={"Retry-After": "1"}).response()
    return await _unhandled(request, exc)


async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return InternalError("An unexpected error occurred; it has been logged.").response()


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json, and describe that body in `app.openapi()`."""
    install_problem_openapi(app)
    app.add_exception_handler(Problem, _problem_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(asyncpg.PostgresError, _database_error)
    app.add_exception_handler(asyncpg.InterfaceError, _database_error)  # a connection lost mid-request
    app.add_exception_handler(OSError, _os_error)  # a connection refused at checkout (the database is down)
    app.add_exception_handler(Exception, _unhandled)
