"""Alembic, driven programmatically (no alembic.ini): upgrade, downgrade, current, check."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(owner_url: URL | str) -> Config:
    """An Alembic Config for `migrations/` connecting as the owner at `owner_url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s"
    )
    rendered = owner_url.render_as_string(hide_password=False) if isinstance(owner_url, URL) else owner_url
    cfg.attributes["owner_url"] = rendered
    return cfg


def _in_thread(fn: Any, *args: Any) -> None:
    # env.py runs its own event loop (asyncio.run); a worker thread keeps that
    # independent of any loop already running in the caller (tests, the app).
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def upgrade(owner_url: URL | str, revision: str = "head") -> None:
    """`alembic upgrade <revision>` as the owner."""
    _in_thread(command.upgrade, alembic_config(owner_url), revision)


def downgrade(owner_url: URL | str, revision: str = "base") -> None:
    """`alembic downgrade <revision>` as the owner."""
    _in_thread(command.downgrade, alembic_config(owner_url), revision)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The head revision id of the migration scripts (read once per process: /readyz calls it often)."""
    return ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused/unused")).get_current_head()


async def set_app_role_password(owner_url: URL | str, role: str, password: str) -> None:
    """Set the application role's login password (for servers that authenticate TCP logins)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            quoted_role = (await conn.execute(text("SELECT quote_ident(:r)"), {"r": role})).scalar_one()
            quoted_password = (await conn.execute(text("SELECT quote_literal(:p)"), {"p": password})).scalar_one()
            await conn.execute(text(f"ALTER ROLE {quoted_role} WITH LOGIN PASSWORD {quoted_password}"))
    finally:
        await engine.dispose()
