"""Request dependencies of the carrier layer: the shared outbound HTTP client."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.carriers.http import CarrierHttp, get_carrier_http


async def carrier_http(request: Request) -> CarrierHttp:
    """`app.state.carrier_http` when the app (or a test) set one, else the process-wide CarrierHttp."""
    http = getattr(request.app.state, "carrier_http", None)
    return http if http is not None else get_carrier_http()


Http = Annotated[CarrierHttp, Depends(carrier_http)]
"""The CarrierHttp an endpoint calls carriers through."""
