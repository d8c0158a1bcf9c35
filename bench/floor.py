"""The floor: the least an ingestion endpoint can do on this stack (FastAPI + asyncpg + PostgreSQL).

`POST /ingest` parses the JSON body and runs one
`INSERT ... ON CONFLICT (id) DO NOTHING` keyed on the body's `id` (the raw
body is stored as jsonb), through an asyncpg pool (no reset query on release): 201 when inserted, 200 when
the id existed. No auth, no idempotency keys, no ORM. `GET /healthz` for
readiness.

Run (the bench does this): FLOOR_DATABASE_URL=postgresql://... \
    uvicorn bench.floor:app --host 127.0.0.1 --port 8101 --workers 1
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

TABLE = "bench_floor_orders"
_INSERT = f"INSERT INTO {TABLE} (id, payload) VALUES ($1, $2::jsonb) ON CONFLICT (id) DO NOTHING"


def _dsn() -> str:
    url = os.environ["FLOOR_DATABASE_URL"]
    scheme, sep, rest = url.partition("://")
    return f"postgresql{sep}{rest}" if scheme.split("+", 1)[0] in ("postgres", "postgresql") else url


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset on release (4 statements): the floor changes no session state."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Create the pool (sized like courier-hub's: 10 + 10 overflow) and the floor's table."""
    app.state.pool = await asyncpg.create_pool(_dsn(), min_size=10, max_size=20, reset=_no_reset)
    async with app.state.pool.acquire() as conn:
        await conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id text PRIMARY KEY, payload jsonb NOT NULL)")
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(title="ingestion floor", lifespan=lifespan)


@app.post("/ingest")
async def ingest(request: Request) -> JSONResponse:
    """Parse the body and insert it once by its `id`: 201 created, 200 existing, 400 malformed."""
    raw = await request.body()
    try:
        payload = json.loads(raw)
        order_id = str(payload["id"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "body must be a JSON object with an id"}, status_code=400)
    status = await app.state.pool.execute(_INSERT, order_id, raw.decode())
    created = status.endswith(" 1")
    return JSONResponse({"result": "created" if created else "existing", "id": order_id}, status_code=201 if created else 200)


@app.get("/healthz")
async def healthz() -> dict:
    """Liveness."""
    return {"status": "ok"}
