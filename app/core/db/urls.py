"""Database URLs: the owner's (migrations, CLI) and the application role's (API, worker)."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from app.core.config import Settings


def normalize_async_url(url: str) -> URL:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and return an asyncpg URL."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    return parsed.set(drivername="postgresql+asyncpg")


def owner_url(settings: Settings) -> URL:
    """The owner connection (runs migrations). Raises RuntimeError if DATABASE_URL is unset."""
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (the CLI starts the embedded server and sets it)")
    return normalize_async_url(settings.database_url)


def app_url(settings: Settings) -> URL:
    """The application-role connection: DATABASE_URL with APP_DB_USER/APP_DB_PASSWORD."""
    password = settings.app_db_password.get_secret_value() if settings.app_db_password else None
    return owner_url(settings).set(username=settings.app_db_user, password=password)
