"""A real merchant webhook receiver for tests: uvicorn on 127.0.0.1, verifying with `standardwebhooks`.

Each path (`/hooks/<name>`) is one merchant endpoint. The receiver verifies
every request as a merchant would (`Webhook(secret).verify(body, headers)`)
with the secret(s) the test registered for that path, records what came,
and answers with the scripted responses (then 200).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Receipt:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    verified_with: list[int]
    """Indexes (into the path's secrets) of the secrets whose signature verified."""

    @property
    def payload(self) -> dict[str, Any]:
        """The body as JSON."""
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` header."""
        return self.headers.get("webhook-id", "")


@dataclass
class Script:
    """Responses a path gives, in order: (status, headers, body) or a float = sleep that long, then 200."""

    responses: list[Any] = field(default_factory=list)


class Receiver:
    """The ASGI app plus its uvicorn server; `url(name)` is the endpoint URL of path `/hooks/<name>`."""

    def __init__(self) -> None:
        self.secrets: dict[str, list[str]] = defaultdict(list)
        self.scripts: dict[str, Script] = defaultdict(Script)
        self.receipts: list[Receipt] = []
        self.port = _free_port()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def url(self, name: str) -> str:
        """http://127.0.0.1:<port>/hooks/<name>."""
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def script(self, name: str, *responses: Any) -> None:
        """Answer the next requests to `name` with `responses` ((status, headers, body) tuples, ints or sleeps)."""
        self.scripts[name].responses.extend(responses)

    def received(self, name: str | None = None) -> list[Receipt]:
        """Receipts (of path `name`, or all)."""
        return [r for r in self.receipts if name is None or r.path == f"/hooks/{name}"]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        name = path.removeprefix("/hooks/")
        verified_with = []
        for index, secret in enumerate(self.secrets.get(name, [])):
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified_with.append(index)
        self.receipts.append(Receipt(path, headers, body, bool(verified_with), verified_with))
        status, extra_headers, text = 200, {}, b"ok"
        script = self.scripts.get(name)
        if script is not None and script.responses:
            step = script.responses.pop(0)
            if isinstance(step, float):
                await asyncio.sleep(step)
            elif isinstance(step, int):
                status = step
            else:
                status, extra_headers, text = step
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"text/plain")] + [(k.encode(), v.encode()) for k, v in extra_headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": text})

    async def start(self) -> None:
        """Serve on 127.0.0.1:<port> in this event loop."""
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
