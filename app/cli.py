"""The `courier-hub` command line (typer): serve, worker, migrate, create-admin-key, revoke-admin-key, doctor,
purge-idempotency-keys, rotate-credentials, labels batch (app.cli_labels), analytics rebuild, init (app.cli_init),
citus distribute (app.cli_citus).

Every command uses DATABASE_URL, or starts the embedded PostgreSQL (data in
EMBEDDED_PG_DIR, default `.data/postgres`) when it is unset.
"""

from __future__ import annotations

import asyncio
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from app.cli_citus import citus_app
from app.cli_init import init_command
from app.cli_labels import labels_app
from app.core.config import Settings, get_settings

app = typer.Typer(help="courier-hub: multi-tenant courier integration backend.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")
analytics_app = typer.Typer(help="Analytics: the courier performance rollups.", no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")
app.add_typer(citus_app, name="citus")
app.command("init")(init_command)


def _settings(*, starting: str | None = None) -> Settings:
    """Settings with DATABASE_URL resolved (embedded server started if unset).

    In development with the embedded database and no CREDENTIALS_ENCRYPTION_KEYS,
    a local key is generated once into `<EMBEDDED_PG_DIR>/../credentials.key`
    (mode 0600) so `make run` works out of the box; production must set the variable.

    Invalid settings exit with code 2 and one line on stderr. `starting` (the command
    name: serve, worker, migrate) also refuses settings unsafe for ENVIRONMENT=production
    (`Settings.production_problems`), before any database is started.
    """
    from pydantic import ValidationError

    try:
        settings = get_settings()
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(str(p) for p in e['loc']).upper() or 'settings'}: {e['msg']}" for e in exc.errors())
        typer.echo(f"courier-hub: invalid settings: {errors}", err=True)
        raise typer.Exit(code=2) from None
    problems = settings.production_problems() if starting else []
    if problems:
        typer.echo(f"courier-hub {starting}: refusing to start with ENVIRONMENT=production: {'; '.join(problems)}", err=True)
        raise typer.Exit(code=2)
    if not settings.database_url:
        from app.core.db.embedded import start_embedded

        url = start_embedded(settings.embedded_pg_dir)
        os.environ["DATABASE_URL"] = url
        if settings.environment == "development" and settings.credentials_encryption_keys is None:
            os.environ["CREDENTIALS_ENCRYPTION_KEYS"] = _local_dev_key(settings.embedded_pg_dir.parent / "credentials.key")
        get_settings.cache_clear()
        settings = get_settings()
    return settings


def _local_dev_key(path: Path) -> str:
    from cryptography.fernet import Fernet

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
        typer.echo(f"development: generated a local credentials encryption key in {path}", err=True)
    return path.read_text().strip()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PORT or 8000).")] = None,
    migrate: Annotated[bool, typer.Option("--migrate/--no-migrate", help="Apply migrations first.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Uvicorn worker processes (each with its own pool).")] = 1,
) -> None:
    """Serve the API with uvicorn (Ctrl-C stops it, and the embedded database with it)."""
    import uvicorn

    from app.core.requestid import configure_logging

    _exit_on_sigterm()
    settings = _settings(starting="serve")
    configure_logging(settings.log_level)
    if migrate:
        from app.core.db import migrate as migrations
        from app.core.db.urls import owner_url

        migrations.upgrade(owner_url(settings))
    os.environ["WEB_CONCURRENCY"] = str(workers)  # each process checks its pool against max_connections × this
    uvicorn.run(
        "app.main:app_factory",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep our handler: request id on every line
        access_log=False,  # our middleware logs each request with its id
        proxy_headers=False,  # X-Forwarded-* are believed only from TRUSTED_PROXIES (app.api.middleware)
        server_header=False,  # no `server: uvicorn` banner
        workers=workers,
    )


def _exit_on_sigterm() -> None:
    """SIGTERM ends the process like Ctrl-C does: through SystemExit, so atexit handlers run
    (the embedded PostgreSQL stops). Uvicorn handles SIGTERM itself while it serves (graceful
    shutdown) and re-raises it at the end, which lands here."""
    import signal
    import sys

    def handler(signum: int, frame: object) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, handler)


@app.command()
def worker(
    tracking: Annotated[bool, typer.Option("--tracking/--no-tracking", help="Run the scheduled tracking refresh.")] = True,
    maintenance: Annotated[
        bool, typer.Option("--maintenance/--no-maintenance", help="Purge expired rows and settle billing grace periods.")
    ] = True,
) -> None:
    """Deliver webhooks, refresh tracking on schedule and run maintenance until SIGTERM/Ctrl-C.

    Run it next to `serve` (as many as you like: work is claimed with SKIP LOCKED).
    """
    from app import worker as worker_process
    from app.core.crypto import CredentialsKeyError
    from app.core.requestid import configure_logging

    settings = _settings(starting="worker")
    configure_logging(settings.log_level)
    try:
        worker_process.main(settings, tracking=tracking, maintenance=maintenance)
    except CredentialsKeyError as exc:
        typer.echo(f"worker: {exc}", err=True)
        raise typer.Exit(code=2) from None


class Direction(str, Enum):
    """Which way `courier-hub migrate` moves the schema."""

    upgrade = "upgrade"
    downgrade = "downgrade"


@app.command()
def migrate(
    direction: Annotated[Direction, typer.Argument(help="upgrade or downgrade.")] = Direction.upgrade,
    revision: Annotated[str | None, typer.Argument(help="Target revision (default: head for upgrade, base for downgrade).")] = None,
) -> None:
    """Apply (or roll back) database migrations as the owner."""
    from app.core.db import migrate as migrations
    from app.core.db.urls import owner_url

    settings = _settings(starting="migrate")
    url = owner_url(settings)
    if direction is Direction.upgrade:
        migrations.upgrade(url, revision or "head")
        if settings.app_db_password is not None:
            asyncio.run(migrations.set_app_role_password(url, settings.app_db_user, settings.app_db_password.get_secret_value()))
    else:
        migrations.downgrade(url, revision or "base")
    typer.echo(f"{direction.value} to {revision or ('head' if direction is Direction.upgrade else 'base')}: done")


@app.command("create-admin-key")
def create_admin_key(name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. 'ops laptop'.")]) -> None:
    """Create a platform-admin API key and print it once (it is stored only as a hash)."""
    from app.auth.service import issue_platform_admin_key
    from app.core.db.session import Database
    from app.core.db.urls import owner_url
    from app.wiring import install_hooks

    install_hooks()

    async def run() -> str:
        db = Database(owner_url(_settings()), pool_size=1, max_overflow=0)
        try:
            async with db.transaction() as session:
                row, key = await issue_platform_admin_key(session=session, name=name)
            return key
        finally:
            await db.dispose()

    key = asyncio.run(run())
    typer.echo(key)
    typer.echo("Store this key now: it cannot be shown again.", err=True)


@app.command("revoke-admin-key")
def revoke_admin_key(prefix: Annotated[str, typer.Option("--prefix", help="The key's readable prefix, e.g. chub_ab12cd34.")]) -> None:
    """Revoke a platform-admin API key by its prefix; exit 1 when no active key has it."""
    from app.auth.service import revoke_platform_admin_key
    from app.core.db.session import Database
    from app.core.db.urls import owner_url
    from app.wiring import install_hooks

    install_hooks()

    async def run() -> bool:
        db = Database(owner_url(_settings()), pool_size=1, max_overflow=0)
        try:
            async with db.transaction() as session:
                return await revoke_platform_admin_key(session=session, prefix=prefix)
        finally:
            await db.dispose()

    if not asyncio.run(run()):
        typer.echo(f"no active platform-admin key with prefix {prefix!r}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"revoked platform-admin key {prefix}")


@app.command()
def doctor() -> None:
    """Check database, migrations, RLS on every tenant table, the app role, on Citus the distribution and the
    tenant scope on the workers, the encryption keys against stored secrets, Redis, Stripe and the worker's heartbeat; non-zero exit on any failure (SKIP: nothing to check)."""
    from app.doctor import run_checks, run_citus_checks, run_config_checks
    from app.core.db.urls import app_url, owner_url

    settings = _settings()
    checks = asyncio.run(run_checks(owner_url(settings), app_url(settings)))
    checks += asyncio.run(run_citus_checks(owner_url(settings), app_url(settings)))
    checks += asyncio.run(run_config_checks(settings, owner_url(settings)))
    for check in checks:
        typer.echo(f"[{'SKIP' if check.skipped else 'PASS' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    failed = [c for c in checks if not c.ok]
    typer.echo("doctor: all checks passed" if not failed else f"doctor: {len(failed)} check(s) failed")
    raise typer.Exit(code=1 if failed else 0)


@app.command("purge-idempotency-keys")
def purge_idempotency_keys() -> None:
    """Delete expired Idempotency-Keys of every tenant (run from cron; the API also purges as it goes)."""
    from app.core.db.session import Database
    from app.idempotency.service import purge_all_expired
    from app.wiring import install_hooks

    install_hooks()

    async def run() -> int:
        db = Database.from_settings(_settings())
        try:
            return await purge_all_expired(db=db)
        finally:
            await db.dispose()

    typer.echo(f"purged {asyncio.run(run())} expired idempotency keys")


@app.command("rotate-credentials")
def rotate_credentials() -> None:
    """Re-encrypt every integration's credentials and webhook secret, and every endpoint's signing secrets,
    under the first CREDENTIALS_ENCRYPTION_KEYS key.

    Rotation: put the new key first (`<new>,<old>`), deploy, run this, then drop the old key.
    """
    from app.core.db.session import Database
    from app.core.crypto import CredentialsKeyError, cipher_from_settings
    from app.integrations.service import rotate_all
    from app.webhooks import service as webhooks
    from app.wiring import install_hooks

    install_hooks()
    settings = _settings()
    try:
        cipher = cipher_from_settings(settings)
    except CredentialsKeyError as exc:
        typer.echo(f"rotate-credentials: {exc}", err=True)
        raise typer.Exit(code=2) from None

    async def run() -> tuple[int, int]:
        db = Database.from_settings(settings)
        try:
            return await rotate_all(db=db, cipher=cipher), await webhooks.rotate_all(db=db, cipher=cipher)
        finally:
            await db.dispose()

    integrations, endpoints = asyncio.run(run())
    typer.echo(
        f"re-encrypted the credentials of {integrations} integrations and the secrets of {endpoints} webhook endpoints "
        "under the newest key"
    )


@analytics_app.command("rebuild")
def analytics_rebuild(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's id (default: every tenant).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=50_000, help="Shipments per transaction.")] = 5000,
) -> None:
    """Recompute every shipment's performance rollup from its tracking events (app.analytics.rollups.rebuild).

    The worker keeps rollups current as tracking changes; run this after an
    upgrade that changes a definition, or to fill them for older shipments.
    """
    import uuid

    from app.analytics import rollups
    from app.core.db.session import Database
    from app.wiring import install_hooks

    try:
        tenant_id = uuid.UUID(tenant) if tenant else None
    except ValueError:
        typer.echo(f"analytics rebuild: --tenant {tenant!r} is not a UUID", err=True)
        raise typer.Exit(code=2) from None
    install_hooks()

    async def run() -> rollups.RefreshReport:
        db = Database.from_settings(_settings())
        try:
            return await rollups.rebuild(db=db, tenant_id=tenant_id, batch_size=batch_size)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    typer.echo(f"rebuilt the rollups of {report.shipments} shipments of {report.tenants} tenant(s)")


if __name__ == "__main__":
    app()
