"""Routers of the API: `PipelineRouter` is FastAPI's APIRouter whose routes parse JSON bodies with orjson (app.core.jsonio)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import is_scalar_field
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.api.content_type import reads_json_body, require_json_content_type
from app.api.errors import RepeatedParameter, UnknownParameter
from app.core import jsonio
from app.core.problems import PayloadTooDeep


class OrjsonRequest(Request):
    """A Request whose `json()` parses with orjson (FastAPI's body parsing calls it)."""

    async def json(self) -> Any:
        """The body parsed as JSON once (app.core.jsonio.loads); raises json.JSONDecodeError when it is not JSON,
        PayloadTooDeep when it nests deeper than app.core.jsonio.MAX_JSON_DEPTH."""
        if not hasattr(self, "_json"):
            self._json = jsonio.loads(await self.body())[0]
        return self._json


def _query_params(route: APIRoute) -> list[Any]:
    """The query parameter fields a route (its dependencies included) declares."""
    params: list[Any] = []
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        params.extend(dependant.query_params)
        pending.extend(dependant.dependencies)
    return params


def declared_query_names(route: APIRoute) -> frozenset[str]:
    """The query parameter names a route (its dependencies included) declares, by their aliases."""
    return frozenset(param.alias for param in _query_params(route))


def single_value_query_names(route: APIRoute) -> frozenset[str]:
    """The declared query parameters that take one value (not a list), by their aliases."""
    return frozenset(param.alias for param in _query_params(route) if is_scalar_field(param))


def reject_unknown_query(request: Request, known: frozenset[str]) -> None:
    """400 `unknown-parameter` naming every query parameter of `request` outside `known` (never silently ignored)."""
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        raise UnknownParameter(
            f"Unknown query parameter(s): {', '.join(unknown)}. Known: {', '.join(sorted(known)) or 'none'}.",
            unknown=unknown,
            known=sorted(known),
        )


def reject_repeated_query(request: Request, single: frozenset[str]) -> None:
    """400 `repeated-parameter` naming every one-value query parameter that `request` sends more than once."""
    repeated = sorted(name for name in single if len(request.query_params.getlist(name)) > 1)
    if repeated:
        raise RepeatedParameter(
            f"Query parameter(s) given more than once: {', '.join(repeated)}. Each takes one value.", repeated=repeated
        )


class PipelineRoute(APIRoute):
    """The route class of every router: requests parsed with orjson (`OrjsonRequest`); on GET routes an
    undeclared query parameter is 400 `unknown-parameter` (list filters are never silently ignored), and a one-value
    parameter sent twice 400 `repeated-parameter` (never last-one-wins)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given an `OrjsonRequest` over the same ASGI scope."""
        handler = super().get_route_handler()
        json_only = reads_json_body(self)
        strict_query = declared_query_names(self) if "GET" in self.methods else None
        single_query = single_value_query_names(self)

        async def route_handler(request: Request) -> Response:
            if strict_query is not None:
                reject_unknown_query(request, strict_query)
                reject_repeated_query(request, single_query)
            if json_only:
                require_json_content_type(request)  # 415 unsupported-media-type
            try:
                return await handler(OrjsonRequest(request.scope, request.receive))
            except HTTPException as exc:
                # FastAPI turns any error of body parsing into a 400; a too-deep body keeps its own problem.
                if isinstance(exc.__cause__, PayloadTooDeep):
                    raise exc.__cause__ from None
                raise

        return route_handler


class PipelineRouter(APIRouter):
    """An APIRouter whose routes are `PipelineRoute`s; every domain router is one."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("route_class", PipelineRoute)
        super().__init__(**kwargs)
