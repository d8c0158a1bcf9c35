"""/healthz (process up) and /readyz (database reachable, migrations at head)."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api.deps import Db
from app.api.routing import PipelineRouter
from app.core.db.migrate import head_revision

router = PipelineRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """200 `{"status": "ok"}` while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness")
async def readyz(db: Db) -> JSONResponse:
    """200 when the database answers and its schema is at the migration head; 503 otherwise.

    Body: `{"status": "ready"|"not_ready", "database": bool, "revision": str|null, "head": str}`.
    """
    head = head_revision()
    try:
        async with db.engine.connect() as conn:
            revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    except Exception:  # noqa: BLE001 - any database failure means "not ready"
        return JSONResponse({"status": "not_ready", "database": False, "revision": None, "head": head}, status_code=503)
    ready = revision == head
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "database": True, "revision": revision, "head": head},
        status_code=200 if ready else 503,
    )
