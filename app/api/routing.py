"""Routers of the API: `PipelineRouter` is FastAPI's APIRouter whose routes parse JSON bodies with orjson (app.core.jsonio)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.api.content_type import reads_json_body, require_json_content_type
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


class PipelineRoute(APIRoute):
    """The route class of every router: requests parsed with orjson (`OrjsonRequest`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given an `OrjsonRequest` over the same ASGI scope."""
        handler = super().get_route_handler()
        json_only = reads_json_body(self)

        async def route_handler(request: Request) -> Response:
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
