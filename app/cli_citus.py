"""`courier-hub citus distribute`: distribute the schema on a Citus cluster (app.core.db.citus.distribute).

Run once after `courier-hub migrate` on a Citus coordinator (and again at will:
it is idempotent). Exit 2 when the database has no citus extension.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

citus_app = typer.Typer(help="Citus: distribute the schema by tenant_id.", no_args_is_help=True)


@citus_app.command("distribute")
def distribute_command(
    coordinator_host: Annotated[
        str | None,
        typer.Option(help="Host the workers reach the coordinator at, registered if the metadata lacks it "
                          "(default: DATABASE_URL's host)."),
    ] = None,
    coordinator_port: Annotated[int | None, typer.Option(help="The coordinator's port (default: DATABASE_URL's).")] = None,
) -> None:
    """Reference tables for the global tables, every tenant table distributed by tenant_id (colocated), FKs restored.

    One transaction, as the owner (DATABASE_URL). Prints what changed, or that nothing had to.
    """
    from app.core.config import get_settings
    from app.core.db import citus
    from app.core.db.urls import owner_url
    from app.models import Base

    settings = get_settings()
    url = owner_url(settings)
    coordinator = (coordinator_host or url.host or "127.0.0.1", coordinator_port or url.port or 5432)

    async def run() -> citus.DistributionReport:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(
                    citus.distribute, Base.metadata, coordinator=coordinator, app_role=settings.app_db_user
                )
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except citus.CitusUnavailable as exc:
        typer.echo(f"citus distribute: refusing: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if not report.changed:
        typer.echo("citus distribute: already distributed; nothing to do")
        return
    typer.echo(f"reference tables: {', '.join(report.reference) or '-'}")
    typer.echo(f"distributed by tenant_id: {', '.join(report.distributed) or '-'}")
    typer.echo(f"foreign keys restored: {len(report.foreign_keys)}")
