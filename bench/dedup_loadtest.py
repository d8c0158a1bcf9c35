"""Idempotent-ingestion load test: many retried requests, each order stored exactly once.

Usage:
    python -m bench.dedup_loadtest --url http://127.0.0.1:8000 --api-key KEY \\
        --source shopify --total 100 --unique 50 --concurrency 10 --out result.json

Sends `total` POSTs to /v1/pos/{source}/ingest over `unique` distinct orders,
each order always under the same Idempotency-Key, `concurrency` in flight.
Orders are built from Shopify's published sample order (bench/data/, source
beside it) with a fresh external id per order, so every run is independent.
A 409 (same key still in flight) is retried with exponential backoff and
jitter, and a 429 (the plan's rate limit) after its `Retry-After`, as a client
should. Prints and writes:

    {"total", "unique", "created", "replayed", "conflicts_retried", "other",
     "orders_in_tenant"}

`orders_in_tenant` counts this run's orders as the tenant sees them
(GET /v1/pos/orders). Expected: created = unique = orders_in_tenant,
replayed = total - unique, other = 0.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_delay, wait_exponential_jitter

SAMPLE = Path(__file__).resolve().parent / "data" / "shopify-order.json"


def _wait_for(backoff: Any) -> Any:
    """Tenacity wait: a 429's `Retry-After` seconds, else exponential backoff with jitter (409)."""

    def wait(state: RetryCallState) -> float:
        response = state.outcome.result()
        if response.status_code == 429:
            try:
                return max(float(response.headers.get("retry-after", "1")), 0.1)
            except ValueError:
                return 1.0
        return backoff(state)

    return wait


def build_orders(source: str, unique: int) -> list[dict[str, Any]]:
    """`unique` distinct order payloads for `source` (shopify: the sample with new ids; generic: canonical)."""
    base = random.randint(10**17, 9 * 10**17)
    if source == "shopify":
        sample = json.loads(SAMPLE.read_text())
        orders = []
        for i in range(unique):
            order = copy.deepcopy(sample)
            order["id"] = base + i
            order["name"] = f"#LT{i}"
            orders.append(order)
        return orders
    if source == "generic":
        return [
            {"external_id": str(base + i), "currency": "EUR", "total": 1000 + i,
             "line_items": [{"name": "Item", "quantity": 1, "unit_price": 1000 + i, "total": 1000 + i}]}
            for i in range(unique)
        ]
    raise SystemExit(f"--source must be shopify or generic, not {source!r}")


def external_id(source: str, order: dict[str, Any]) -> str:
    """The external id the server stores for `order`."""
    return str(order["id"] if source == "shopify" else order["external_id"])


async def run(args: argparse.Namespace) -> dict[str, int]:
    """Fire the requests and return the figures."""
    orders = build_orders(args.source, args.unique)
    keys = [str(uuid.uuid4()) for _ in orders]
    # Request j sends order j % unique: duplicates interleave, so retries race the first attempt.
    plan = [j % args.unique for j in range(args.total)]
    random.shuffle(plan)
    counts = {"created": 0, "replayed": 0, "conflicts_retried": 0, "other": 0}
    rate_limited = 0
    backoff = wait_exponential_jitter(multiplier=0.05, max=2.0, jitter=0.1)

    def count_retry(state: RetryCallState) -> None:
        nonlocal rate_limited
        if state.outcome.result().status_code == 429:
            rate_limited += 1
        else:
            counts["conflicts_retried"] += 1
    semaphore = asyncio.Semaphore(args.concurrency)
    headers = {"Authorization": f"Bearer {args.api_key}"}

    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=30.0) as client:

        async def send(index: int) -> None:
            async with semaphore:
                path = f"/v1/pos/{args.source}/ingest"
                body = json.dumps(orders[index])
                request_headers = {"Idempotency-Key": keys[index], "Content-Type": "application/json"}
                retrying = AsyncRetrying(
                    retry=retry_if_result(lambda r: r.status_code in (409, 429)),
                    wait=_wait_for(backoff),
                    stop=stop_after_delay(300),
                    before_sleep=count_retry,
                    retry_error_callback=lambda state: state.outcome.result(),
                )
                response = await retrying(client.post, path, content=body, headers=request_headers)
                if response.status_code == 201 and response.headers.get("idempotent-replayed") == "true":
                    counts["replayed"] += 1
                elif response.status_code == 201:
                    counts["created"] += 1
                else:
                    counts["other"] += 1
                    print(f"unexpected {response.status_code}: {response.text[:300]}", file=sys.stderr)

        await asyncio.gather(*(send(i) for i in plan))

        wanted = {external_id(args.source, o) for o in orders}
        seen = 0
        cursor = None
        while True:
            params: dict[str, Any] = {"source": args.source, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/v1/pos/orders", params=params)).raise_for_status().json()
            seen += sum(1 for o in page["data"] if o["external_id"] in wanted)
            cursor = page["next_cursor"]
            if not cursor:
                break
    if rate_limited:
        print(f"note: {rate_limited} responses were 429 (plan rate limit) and retried after Retry-After", file=sys.stderr)
    return {"total": args.total, "unique": args.unique, **counts, "orders_in_tenant": seen}


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exit 0 when the figures are the expected ones, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="Base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--api-key", required=True, help="A merchant or tenant_admin key")
    parser.add_argument("--source", default="shopify", choices=["shopify", "generic"])
    parser.add_argument("--total", type=int, default=100)
    parser.add_argument("--unique", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None, help="Write the figures as JSON here")
    args = parser.parse_args(argv)
    if not 0 < args.unique <= args.total:
        parser.error("need 0 < --unique <= --total")
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    ok = (
        result["created"] == result["unique"] == result["orders_in_tenant"]
        and result["replayed"] == result["total"] - result["unique"]
        and result["other"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
