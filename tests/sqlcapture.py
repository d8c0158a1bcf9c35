"""Every SQL statement the application role sends during the whole test suite, for the tenant-predicate check.

Two taps, installed once per session by `tests/conftest.py` (`app_sql`):
SQLAlchemy's `before_cursor_execute` on every Engine (statements through the
ORM and Core), and an asyncpg query logger on every new connection (statements
sent straight to the driver on the hot path: key lookup, Idempotency-Key
claim, ingest, fan-out). Only connections of the application role
(APP_DB_USER) are recorded: the owner's statements are the tests arranging
and inspecting rows, and migrations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool


class StatementLog:
    """The distinct statements (text) sent by `role`, with how often each was sent."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.statements: dict[str, int] = {}
        self._ignored: list[Engine] = []

    def ignore(self, engine: Any) -> None:
        """Do not record `engine` (an AsyncEngine the tests themselves use as the app role, e.g. `app_db`)."""
        self._ignored.append(engine.sync_engine)  # by engine: dispose() gives it a new pool

    def add(self, sql: str) -> None:
        """Record one statement."""
        self.statements[sql] = self.statements.get(sql, 0) + 1

    def _on_cursor(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if conn.engine.url.username == self.role and not any(conn.engine is e for e in self._ignored):
            self.add(statement)

    def _on_connect(self, dbapi_connection: Any, record: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is None or not hasattr(driver, "add_query_logger"):
            return
        pool = getattr(record, "_ConnectionRecord__pool", None)  # SQLAlchemy names it privately
        if any(pool is e.pool for e in self._ignored):
            return
        if driver._params.user == self.role:  # noqa: SLF001 - asyncpg exposes no public "user"
            driver.add_query_logger(lambda logged: self.add(logged.query))

    def install(self) -> None:
        """Listen on every Engine and Pool of the process."""
        event.listen(Engine, "before_cursor_execute", self._on_cursor)
        event.listen(Pool, "connect", self._on_connect)

    def remove(self) -> None:
        """Stop listening."""
        event.remove(Engine, "before_cursor_execute", self._on_cursor)
        event.remove(Pool, "connect", self._on_connect)
