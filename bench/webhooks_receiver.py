"""The webhook benchmark's receiver: a merchant endpoint in its own process (uvicorn, 127.0.0.1).

    python -m bench.webhooks_receiver --port PORT --secret whsec_...

`POST /hooks/<name>` verifies the Standard Webhooks signature (`standardwebhooks`,
as a merchant would), records the arrival time (`time.time()`, after the body
was read), the `webhook-id`, whether it verified and the body, and answers 204.
`GET /receipts/<name>` returns them as JSON (`?bodies=1` adds the bodies);
`GET /healthz` answers 200 once it serves.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class ReceiverApp:
    """A bare ASGI app: no framework between the socket and the verification."""

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.receipts: dict[str, list[dict[str, Any]]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        arrived = time.time()
        path: str = scope["path"]
        if scope["method"] == "POST" and path.startswith("/hooks/"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            try:
                self.webhook.verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            self.receipts.setdefault(path.removeprefix("/hooks/"), []).append(
                {"id": headers.get("webhook-id"), "at": arrived, "verified": verified, "body": body.decode()}
            )
            await _answer(send, 204, b"")
        elif path.startswith("/receipts/"):
            bodies = b"bodies=1" in scope.get("query_string", b"")
            rows = [
                r if bodies else {k: v for k, v in r.items() if k != "body"}
                for r in self.receipts.get(path.removeprefix("/receipts/"), [])
            ]
            await _answer(send, 200, json.dumps(rows).encode(), b"application/json")
        elif path == "/healthz":
            await _answer(send, 200, b"ok")
        else:
            await _answer(send, 404, b"")


async def _answer(send: Any, status: int, body: bytes, content_type: bytes = b"text/plain") -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    """Serve until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    uvicorn.run(ReceiverApp(args.secret), host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                lifespan="off")


if __name__ == "__main__":
    main()
