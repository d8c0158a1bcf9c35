"""A local stand-in for FedEx's REST APIs (OAuth, Ship, Track, Locations), served over real HTTP by uvicorn.

The console's server runs in its own uvicorn with FEDEX_BASE_URL pointing here,
so the browser's actions reach "FedEx" through the server's ordinary carrier
client. Answers are FedEx's published samples (../shared/carrier-samples/fedex):
the Ship API's `ship-response-spec-example.json`, renumbered per call so each
booking has its own tracking number; the Track API's delivered example with
the booked number in place of its own; the Locations API's `LocationDetail` example.
"""

from __future__ import annotations

import asyncio
import copy
import json
import socket
from typing import Any

import uvicorn

from tests.conftest import shared_sample

SAMPLE_TRACKING_NUMBER = "738488882438"


def fedex_sample(name: str) -> Any:
    """A FedEx sample payload from ../shared/carrier-samples/fedex."""
    return json.loads(shared_sample("carrier-samples", "fedex", name).read_text(encoding="utf-8-sig"))


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FedexStandIn:
    """The ASGI app and its server; `booked` lists the tracking numbers it handed out, `calls` every request path."""

    def __init__(self) -> None:
        self.port = free_port()
        self.ship_reply = fedex_sample("ship-response-spec-example.json")
        self.track_reply = json.dumps(fedex_sample("tracking-response-delivered-ground-738488882438.json"))
        self.location = fedex_sample("location-search-location-detail-schema-example.json")
        self.booked: list[str] = []
        self.calls: list[str] = []
        self.ship_delay = 0.0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """Its base URL (FEDEX_BASE_URL)."""
        return f"http://127.0.0.1:{self.port}"

    def _answer(self, path: str, body: bytes) -> tuple[int, Any]:
        if path == "/oauth/token":
            return 200, {"access_token": "fx-token", "token_type": "bearer", "expires_in": 3599}
        if path == "/ship/v1/shipments":
            number = f"7949{len(self.booked) + 1:08d}"
            self.booked.append(number)
            reply = copy.deepcopy(self.ship_reply)
            shipment = reply["output"]["transactionShipments"][0]
            shipment["masterTrackingNumber"] = number
            for piece in shipment["pieceResponses"]:
                piece["trackingNumber"] = piece["masterTrackingNumber"] = number
            return 200, reply
        if path == "/track/v1/trackingnumbers":
            asked = json.loads(body)["trackingInfo"][0]["trackingNumberInfo"]["trackingNumber"]
            return 200, json.loads(self.track_reply.replace(SAMPLE_TRACKING_NUMBER, asked))
        if path == "/location/v1/locations":
            detail = copy.deepcopy(self.location)
            return 200, {"transactionId": "t-1", "output": {"totalResults": 1, "resultsReturned": 1, "locationDetailList": [detail]}}
        return 404, {"errors": [{"code": "NOT.FOUND", "message": path}]}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls.append(scope["path"])
        if scope["path"] == "/ship/v1/shipments" and self.ship_delay:
            await asyncio.sleep(self.ship_delay)
        status, payload = self._answer(scope["path"], body)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    async def start(self) -> None:
        """Serve on 127.0.0.1:<port> in this event loop."""
        self._server = uvicorn.Server(uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"))
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
